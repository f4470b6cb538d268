"""The front door, signing in and signing out."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.auth import SignInBusy, issue_token, login_limiter, password_checks
from api.auth import sign_in as check_password
from api.pages.rendering import render
from api.pages.session import checked_form, clear_session, page_user, safe_next, set_session
from api.problems import ApiError

router = APIRouter(include_in_schema=False)

MAX_NAME, MAX_PASSWORD = 128, 1024


@router.get("/", response_class=HTMLResponse)
async def front_door(request: Request) -> Response:
    """Links to signing in (or the user's own page) and to every authority's public stand."""
    await page_user(request)
    return render(request, "front.html", {"stands": list(request.app.state.okno.authorities.get())})


@router.get("/signin", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    user = await page_user(request)
    if user is not None:
        return RedirectResponse(safe_next(next, user), status_code=303)
    return render(request, "signin.html", {"next": next or "", "username": "", "errors": {}})


@router.post("/signin", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Check the name and password (throttled like the API's token route); on success set the
    session cookie and go where the user was heading."""
    form = await checked_form(request)
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = str(form.get("next") or "")
    errors: dict[str, str] = {}
    if not name:
        errors["username"] = "Введите имя пользователя."
    elif len(name) > MAX_NAME:
        errors["username"] = f"Имя пользователя не длиннее {MAX_NAME} символов."
    if not password:
        errors["password"] = "Введите пароль."
    elif len(password) > MAX_PASSWORD:
        errors["password"] = f"Пароль не длиннее {MAX_PASSWORD} символов."
    status = 422
    if not errors:
        svc = request.app.state.okno
        limiter, checks = await login_limiter(request), await password_checks(request)
        client = request.client.host if request.client else ""
        try:  # throttled and bounded like the API's token route (api.auth.sign_in)
            user = await run_in_threadpool(check_password, svc.db, name, password, client, limiter,
                                           checks)
        except SignInBusy:
            errors["username"] = "Сервер сейчас проверяет другие входы. Повторите через 1 с."
            status = 429
        except ApiError as refused:
            if refused.status == 429:
                wait = (refused.headers or {}).get("Retry-After", "")
                errors["username"] = ("Слишком много неудачных попыток входа. Повторите через "
                                      f"{wait} с.")
                status = 429
            else:
                errors["password"] = "Неверное имя пользователя или пароль."
                status = 401
        else:
            token, lifetime = issue_token(user, svc.secret, svc.settings.token_minutes)
            response = RedirectResponse(safe_next(target, user), status_code=303)
            set_session(request, response, token, lifetime)
            return response
    return render(request, "signin.html", {"next": target, "username": name, "errors": errors},
                  status=status)


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    response = RedirectResponse("/", status_code=303)
    clear_session(response)
    return response

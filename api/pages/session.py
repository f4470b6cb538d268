"""Who is looking at a page: the session cookie, CSRF tokens, and the roles a page admits.

Signing in on the sign-in page sets `okno_session`, an HttpOnly, SameSite=Lax cookie holding the
same signed token the JSON API issues (api.auth), so a page checks its user exactly as a route
does, revocation included (`AccountCheck`). Forms are protected against cross-site requests by a
signed double-submit token: `okno_csrf` is a random cookie, and every form carries
HMAC(secret, cookie + session) in its `csrf` field (htmx sends it as `X-CSRF-Token`); a POST
whose token does not match is refused before anything runs. A page that needs a user raises
`SignInRequired` (a redirect to the sign-in page and back); a role that may not see it,
`PageForbidden` (a 403 page); api.pages.rendering handles both.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response

from api.auth import account_check, read_token
from api.problems import ApiError
from engine.accounts import User

SESSION_COOKIE = "okno_session"
CSRF_COOKIE = "okno_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

# Where each role lands after signing in (its main page).
HOME = {"clerk": "/desk", "supervisor": "/desk", "auditor": "/desk", "analyst": "/analyst",
        "applicant": "/cabinet"}
# Russian names of the roles, shown in the page header.
ROLE_TITLES = {"clerk": "специалист", "supervisor": "руководитель", "auditor": "контролёр",
               "analyst": "аналитик", "applicant": "заявитель"}


class SignInRequired(Exception):
    """The page needs a signed-in user: answer with a redirect to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageForbidden(Exception):
    """The signed-in user's role may not see this page; `reason` is shown to them (Russian)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def page_user(request: Request) -> User | None:
    """The user the session cookie names, if the token is valid and the account still accepts
    it; None otherwise (a page, unlike an API route, then offers to sign in)."""
    if "okno_user" in request.scope:
        return request.scope["okno_user"]
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token and len(token) < 4096:
        try:
            user, iat = read_token(token, request.app.state.okno.secret)
            await account_check(request).check(user, iat)
        except ApiError:
            user = None
    request.scope["okno_user"] = user
    return user


async def require_user(request: Request, *roles: str) -> User:
    """The signed-in user, whose role is one of `roles` (any role when none are given)."""
    user = await page_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(f"/signin?next={quote(target, safe='')}")
    if roles and user.role not in roles:
        raise PageForbidden("Эта страница недоступна для вашей роли "
                            f"({ROLE_TITLES.get(user.role, user.role)}).")
    return user


def safe_next(target: str | None, user: User) -> str:
    """Where to go after signing in: `target` if it is a path on this site, else the role's
    home page (never another host: `//host` and `/\\host` are refused)."""
    if (target and target.startswith("/") and not target.startswith(("//", "/\\"))
            and len(target) <= 2048 and "\n" not in target and "\r" not in target):
        return target
    return HOME.get(user.role, "/")


# ------------------------------------------------------------------------------------ CSRF

def csrf_cookie(request: Request) -> str:
    """This browser's CSRF cookie value, made (and remembered for the response) when it has
    none yet."""
    value = request.cookies.get(CSRF_COOKIE) or request.scope.get("okno_new_csrf")
    if not value or len(value) > 128:
        value = request.scope["okno_new_csrf"] = secrets.token_urlsafe(32)
    return value


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry: bound to its CSRF cookie and its session."""
    session = request.cookies.get(SESSION_COOKIE, "")
    message = f"csrf\x1f{csrf_cookie(request)}\x1f{session}".encode()
    key = request.app.state.okno.secret.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_csrf(request: Request, form: Any) -> bool:
    """True if the request carries this browser's token (form field or header)."""
    if not request.cookies.get(CSRF_COOKIE):
        return False
    sent = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)
    return isinstance(sent, str) and hmac.compare_digest(sent, csrf_token(request))


async def checked_form(request: Request) -> Any:
    """The posted form, after checking its CSRF token (a mismatch is refused before anything
    runs: 403 with a page asking to reload the form)."""
    form = await request.form()
    if not check_csrf(request, form):
        raise PageForbidden("Форма устарела или отправлена с другого сайта. Обновите страницу "
                            "и отправьте форму ещё раз.")
    return form


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie on `response` if this request made a new one."""
    value = request.scope.get("okno_new_csrf")
    if value:
        response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")


def set_session(request: Request, response: Response, token: str, lifetime: int) -> None:
    """Sign the browser in: the session cookie holds the API token for its lifetime."""
    response.set_cookie(SESSION_COOKIE, token, max_age=lifetime, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def page_context(request: Request) -> dict[str, Any]:
    """What every template may use: the user (if the page looked), the CSRF token, the roles'
    titles."""
    return {"user": request.scope.get("okno_user"), "csrf": csrf_token(request),
            "csrf_field": CSRF_FIELD, "role_titles": ROLE_TITLES, "home": HOME}

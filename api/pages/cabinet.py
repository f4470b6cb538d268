"""The applicant's cabinet as pages: sign up, the list of one's own appeals and cases, one case
with its text, notices and replies, withdrawing, and filing an appeal.

- `/signup`: name, password (twice), e-mail (optional); an applicant account of `citizens`,
  made through `api.auth.sign_up` (throttled per address and bounded like signing in); then the
  session is set and the applicant lands in `/cabinet`. Every error is next to its field (422).
- `/cabinet`: the applicant's appeals and administrative-procedure cases (engine.read.cabinet):
  registration number, what it is, status, due date.
- `/cabinet/cases/{id}`: one of them, its question, its notices (the reply among them: title,
  date, text, and the link to the printable notice `/cases/{id}/notices/{nid}`), and the withdraw
  form while it may be withdrawn. Another's case is 404, like a missing one.
- `/cabinet/appeal`: the appeal form (electronic channel): the authority from the authorities
  catalog, the kind and topic from the appeal definition's lists, the text, the e-mail (the one
  given at sign-up by default). It registers through `Cases.start` like `POST /api/cases`.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.auth import SignInBusy, issue_token, password_checks, sign_up, signup_limiter
from api.pages.commands import command_error, ru_date, ru_datetime
from api.pages.rendering import render, templates
from api.pages.session import checked_form, page_user, require_user, set_session
from api.problems import ApiError
from engine import applicants
from engine.accounts import User, org_has_staff
from engine.diff.wording import term_ru
from engine.errors import Conflict, InvalidInput, NotFound, OknoError
from engine.read import cabinet

router = APIRouter(include_in_schema=False)

APPEAL = "appeal"  # the appeal definition's number (docs/appeals.md)
MAX_ID, MAX_REASON, MAX_QUESTION = 64, 1000, 10_000

STATUS_TITLES = {"open": "на рассмотрении", "suspended": "приостановлено",
                 "completed": "рассмотрено", "withdrawn": "отозвано",
                 "not_accepted": "в приёме отказано", "closed": "в архиве"}
OUTCOME_TITLES = {"approved": "удовлетворено", "refused": "отказано",
                  "satisfied": "удовлетворено", "not_satisfied": "не удовлетворено",
                  "explained": "даны разъяснения",
                  "left_without_consideration": "оставлено без рассмотрения по существу",
                  "withdrawn": "отозвано", "answered": "дан ответ"}
TYPE_TITLES = {"procedure": "Административная процедура", "appeal": "Обращение",
               "remarks": "Запись в книге замечаний и предложений"}
SIGNUP_LABELS = {"name": "Имя пользователя", "password": "Пароль", "password2": "Пароль ещё раз",
                 "email": "Электронная почта"}
APPEAL_LABELS = {"authority": "Организация", "kind": "Вид обращения", "topic": "Тема",
                 "question": "Текст обращения", "email": "Электронная почта"}

templates.env.filters.setdefault("ru_date", ru_date)
templates.env.filters.setdefault("ru_datetime", ru_datetime)
templates.env.filters.setdefault("term_ru", term_ru)


# ------------------------------------------------------------------------------------ sign-up

@router.get("/signup")
async def signup_page(request: Request) -> Response:
    user = await page_user(request)
    if user is not None:
        return RedirectResponse("/cabinet" if user.role == "applicant" else "/", status_code=303)
    return render(request, "signup.html", {"values": {}, "errors": {}, "labels": SIGNUP_LABELS})


def signup_errors(name: str, password: str, password2: str, email: str) -> dict[str, str]:
    """What is wrong with a sign-up form, in Russian, per field (engine.applicants' rules)."""
    errors: dict[str, str] = {}
    if not applicants.NAME.match(name):
        errors["name"] = ("Имя пользователя — от 3 до 64 букв, цифр или знаков «.», «_», «-», "
                          "без пробелов.")
    if not applicants.MIN_PASSWORD <= len(password) <= applicants.MAX_PASSWORD:
        errors["password"] = (f"Пароль — от {applicants.MIN_PASSWORD} до "
                              f"{applicants.MAX_PASSWORD} символов.")
    elif password2 != password:
        errors["password2"] = "Пароли не совпадают."
    if email and (len(email) > applicants.MAX_EMAIL or not applicants.EMAIL.match(email)):
        errors["email"] = "Укажите адрес электронной почты в виде имя@домен.бел или оставьте поле пустым."
    return errors


@router.post("/signup")
async def signup(request: Request) -> Response:
    form = await checked_form(request)
    values = {key: str(form.get(key) or "")[:2048] for key in ("name", "email")}
    values = {key: value.strip() for key, value in values.items()}
    password, password2 = str(form.get("password") or "")[:4096], str(form.get("password2") or "")[:4096]
    errors = signup_errors(values["name"], password, password2, values["email"])
    status = 422
    if not errors:
        svc = request.app.state.okno
        limiter, checks = await signup_limiter(request), await password_checks(request)
        client = request.client.host if request.client else ""
        try:
            made = await run_in_threadpool(sign_up, svc.db, values["name"], password,
                                           values["email"] or None, client, limiter, checks)
        except SignInBusy:
            errors["name"], status = "Сервер сейчас занят. Повторите через 1 с.", 429
        except Conflict:
            errors["name"], status = "Это имя уже занято, выберите другое.", 409
        except InvalidInput as bad:
            errors[bad.field or "name"] = "Проверьте значение поля."
        except ApiError as refused:
            wait = (refused.headers or {}).get("Retry-After", "")
            errors["name"] = f"Слишком много регистраций с этого адреса. Повторите через {wait} с."
            status = 429
        else:
            token, lifetime = issue_token(made.user, svc.secret, svc.settings.token_minutes)
            response = RedirectResponse("/cabinet?done=signup", status_code=303)
            set_session(request, response, token, lifetime)
            return response
    return render(request, "signup.html", {"values": values, "errors": errors,
                                           "labels": SIGNUP_LABELS}, status=status)


# ------------------------------------------------------------------------------------ cabinet

def _titles() -> dict[str, Any]:
    return {"statuses": STATUS_TITLES, "outcomes": OUTCOME_TITLES, "types": TYPE_TITLES}


@router.get("/cabinet")
async def cabinet_page(request: Request, page: int = 1) -> Response:
    user = await require_user(request, "applicant")
    svc = request.app.state.okno
    page = max(1, min(page, 10_000))
    size = 50
    with svc.db.connect() as conn:
        listed = cabinet.my_cases(conn, user.name, limit=size, offset=(page - 1) * size)
    return render(request, "cabinet.html", {
        **_titles(), "cases": listed, "page": page,
        "names": {a.id: a.name for a in svc.authorities.get()}, "pages": max(1, -(-listed["total"] // size)),
        "done": str(request.query_params.get("done", ""))[:32],
        "may_appeal": _appeal_definition(svc) is not None})


def _case_context(svc: Any, user: User, case_id: str) -> dict[str, Any] | None:
    with svc.db.connect() as conn:
        case = cabinet.case_of(conn, user.name, case_id, svc.versions, svc.cases.calendar)
    if case is None:
        return None
    catalog = svc.authorities.get()
    if case["refusal"] and not case["refusal"]["superior_body"]:  # the catalog names it
        authority = catalog.get(case["authority"])
        superior = catalog.superior(authority) if authority else None
        case["refusal"]["superior_body"] = superior.name if superior else None
    return {**_titles(), "case": case, "zone": svc.settings.timezone,
            "names": {a.id: a.name for a in catalog}}


@router.get("/cabinet/cases/{case_id}")
async def cabinet_case(request: Request, case_id: str) -> Response:
    user = await require_user(request, "applicant")
    context = _case_context(request.app.state.okno, user, case_id[:MAX_ID])
    if context is None:
        return render(request, "case_missing.html", {}, status=404)
    context["done"] = str(request.query_params.get("done", ""))[:32]
    return render(request, "cabinet_case.html", context)


@router.post("/cabinet/cases/{case_id}/withdraw")
async def cabinet_withdraw(request: Request, case_id: str) -> Response:
    """Withdraw one's own case (the same `Cases.withdraw` as the API); another's is 404."""
    user = await require_user(request, "applicant")
    form = await checked_form(request)
    svc, case_id = request.app.state.okno, case_id[:MAX_ID]
    context = _case_context(svc, user, case_id)
    if context is None:
        return render(request, "case_missing.html", {}, status=404)
    reason = str(form.get("reason") or "").strip()[:MAX_REASON] or None
    try:
        if not context["case"]["withdrawable"]:
            raise InvalidInput("Отозвать можно только до рассмотрения по существу.", field="reason")
        svc.cases.withdraw(case_id, actor=user.name, reason=reason)
    except OknoError as exc:
        context["withdraw_error"] = (exc.detail if exc.detail.startswith("Отозвать")
                                     else command_error(exc))
        return render(request, "cabinet_case.html", context,
                      status=422 if isinstance(exc, InvalidInput) else 409)
    return RedirectResponse(f"/cabinet/cases/{case_id}?done=withdraw", status_code=303)


# ------------------------------------------------------------------------------------ filing

def _appeal_definition(svc: Any) -> Any | None:
    """The appeal definition in force, or None when the catalog has none (CORE's, docs/appeals.md)."""
    try:
        proc = svc.versions.current(APPEAL)
    except OknoError:
        return None
    return proc if getattr(proc, "type", "procedure") == APPEAL else None


def _appeal_form(svc: Any, proc: Any) -> dict[str, Any]:
    return {"authorities": sorted(((a.id, a.name) for a in svc.authorities.get()),
                                  key=lambda pair: pair[1]),
            "kinds": [(c.id, c.title) for c in getattr(proc, "kinds", ())],
            "topics": [(c.id, c.title) for c in getattr(proc, "topics", ())],
            "labels": APPEAL_LABELS, "max_question": MAX_QUESTION}


@router.get("/cabinet/appeal")
async def appeal_page(request: Request) -> Response:
    user = await require_user(request, "applicant")
    svc = request.app.state.okno
    proc = _appeal_definition(svc)
    if proc is None:
        return render(request, "cabinet_no_appeals.html", {}, status=404)
    with svc.db.connect() as conn:
        email = applicants.email_of(conn, user.name) or ""
    return render(request, "cabinet_appeal.html", {**_appeal_form(svc, proc), "errors": {},
                                                   "values": {"email": email}})


def appeal_errors(values: dict[str, str], form: dict[str, Any], db: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values["authority"] not in {a for a, _ in form["authorities"]}:
        errors["authority"] = "Выберите организацию из списка."
    elif not org_has_staff(db, values["authority"]):
        errors["authority"] = "Эта организация пока не принимает обращения через okno."
    if values["kind"] not in {k for k, _ in form["kinds"]}:
        errors["kind"] = "Выберите вид обращения."
    if values["topic"] not in {t for t, _ in form["topics"]}:
        errors["topic"] = "Выберите тему обращения."
    if not values["question"]:
        errors["question"] = "Изложите суть обращения."
    elif len(values["question"]) > MAX_QUESTION:
        errors["question"] = f"Текст обращения — не длиннее {MAX_QUESTION} символов."
    email = values["email"]
    if email and (len(email) > applicants.MAX_EMAIL or not applicants.EMAIL.match(email)):
        errors["email"] = "Укажите адрес электронной почты в виде имя@домен.бел или оставьте поле пустым."
    return errors


@router.post("/cabinet/appeal")
async def file_appeal(request: Request) -> Response:
    """Register the applicant's electronic appeal (`Cases.start`, as `POST /api/cases` does)."""
    user = await require_user(request, "applicant")
    raw = await checked_form(request)
    svc = request.app.state.okno
    proc = _appeal_definition(svc)
    if proc is None:
        return render(request, "cabinet_no_appeals.html", {}, status=404)
    values = {key: str(raw.get(key) or "").strip()[: MAX_QUESTION + 1]
              for key in ("authority", "kind", "topic", "question", "email")}
    form = _appeal_form(svc, proc)
    errors = appeal_errors(values, form, svc.db)
    if not errors:
        data = {"kind": values["kind"], "topic": values["topic"], "question": values["question"]}
        if values["email"]:
            data["email"] = values["email"]
        try:
            case_id = svc.cases.start(APPEAL, applicant=user.name, channel="electronic",
                                      authority=values["authority"], actor=user.name,
                                      applicant_user=user.name, data=data)
        except (InvalidInput, NotFound) as bad:
            name = (bad.field or "question").removeprefix("data.")
            errors[name if name in APPEAL_LABELS else "question"] = command_error(bad)
        else:
            return RedirectResponse(f"/cabinet/cases/{case_id}?done=appeal", status_code=303)
    return render(request, "cabinet_appeal.html", {**form, "errors": errors, "values": values},
                  status=422)

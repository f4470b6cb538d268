"""The clerk's start page: registering an application for one procedure (`/cases/new/{number}`).

The form asks what `POST /api/cases` takes from staff: the applicant, the channel, the fee
category (where the fee has them), the exemption (where the fee has exemptions) and, for a
procedure with service options (docs/authoring.md, "Service options"), the option the applicant
chooses, each with its term and fee. It registers through `Cases.start` for the clerk's own
organisation and goes to the new case's page; every error is shown next to its field (422).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.pages.commands import command_error
from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from engine.definition.procedure import Procedure
from engine.diff.wording import CHANNEL_RU
from engine.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

STAFF = ("clerk", "supervisor")
MAX_APPLICANT, MAX_ID = 128, 64
LABELS = {"applicant": "Заявитель", "channel": "Способ подачи", "category": "Категория заявителя",
          "option": "Порядок осуществления", "exempt": "Освобождение от платы"}


def _procedure(request: Request, number: str) -> Procedure | None:
    try:
        proc = request.app.state.okno.versions.current(number[:32])
    except (NotFound, KeyError):
        return None
    return proc if proc.is_procedure else None


def _form(proc: Procedure) -> dict[str, Any]:
    return {"proc": proc, "labels": LABELS,
            "channels": [(c, CHANNEL_RU.get(c, c)) for c in proc.channels],
            "categories": [(c.id, c.title) for c in proc.fee.categories]
            if proc.fee.kind == "by_category" else [],
            "options": proc.options, "max_applicant": MAX_APPLICANT}


def _missing(request: Request) -> Response:
    return render(request, "stand/not_found.html",
                  {"what": "Такой административной процедуры нет в перечне."}, status=404)


@router.get("/cases/new/{number}")
async def start_page(request: Request, number: str) -> Response:
    await require_user(request, *STAFF)
    proc = _procedure(request, number)
    if proc is None:
        return _missing(request)
    default = proc.default_option
    values = {"channel": proc.channels[0], "option": default.id if default is not None else ""}
    return render(request, "start.html", {**_form(proc), "errors": {}, "values": values})


def start_errors(proc: Procedure, values: dict[str, str]) -> dict[str, str]:
    """The form's errors, in Russian, each for its field (all at once)."""
    errors: dict[str, str] = {}
    if not values["applicant"]:
        errors["applicant"] = "Укажите фамилию, имя, отчество заявителя."
    elif len(values["applicant"]) > MAX_APPLICANT:
        errors["applicant"] = f"Не длиннее {MAX_APPLICANT} символов."
    if values["channel"] not in proc.channels:
        errors["channel"] = "Выберите способ подачи из списка."
    if proc.fee.kind == "by_category" and values["category"] not in {
            c.id for c in proc.fee.categories}:
        errors["category"] = "Выберите категорию заявителя."
    if proc.options and values["option"] not in {o.id for o in proc.options}:
        errors["option"] = "Выберите порядок осуществления: срок и плата зависят от него."
    return errors


@router.post("/cases/new/{number}")
async def start_case(request: Request, number: str) -> Response:
    """Register the application (`Cases.start`, as `POST /api/cases` does for staff)."""
    user = await require_user(request, *STAFF)
    raw = await checked_form(request)
    proc = _procedure(request, number)
    if proc is None:
        return _missing(request)
    values = {key: str(raw.get(key) or "").strip()[: MAX_APPLICANT + 1]
              for key in ("applicant", "channel", "category", "option")}
    exempt = raw.get("exempt") == "on"
    errors = start_errors(proc, values)
    if not errors:
        svc = request.app.state.okno
        try:
            case_id = await run_in_threadpool(
                svc.cases.start, proc.number, applicant=values["applicant"],
                channel=values["channel"], authority=user.org, actor=user.name,
                category=values["category"] or None, exempt=exempt,
                option=values["option"] or None)
        except (InvalidInput, NotFound) as bad:
            errors[bad.field if bad.field in LABELS else "applicant"] = command_error(bad)
        else:
            return RedirectResponse(f"/cases/{case_id}", status_code=303)
    return render(request, "start.html", {**_form(proc), "errors": errors,
                                          "values": {**values, "exempt": exempt}}, status=422)

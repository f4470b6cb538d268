"""The clerk's desk (`/desk`): the work list with filters, search, saved filters and claiming.

The filters live in the URL (a GET form), so a filtered list is a link, a saved filter is that
query string under a name (engine.saved_filters), and the table part (`/desk/rows`, the same
query) is what htmx polls to refresh the list; without JavaScript the page offers a refresh
link. Rows come from engine.read.worklist (`desk_page`), with the working days left computed on
the Belarusian calendar there. Claiming one task or several (checkboxes, one POST) runs the
same `Cases.claim` as `POST /api/cases/{id}/tasks/{task}/claim`, each after the same access
checks, then redirects back to the list with what happened.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.pages.commands import command_error, is_command_error, may_claim, ru_date, visible_task
from api.pages.rendering import render, templates
from api.pages.session import checked_form, require_user
from api.problems import ApiError
from engine import saved_filters
from engine.accounts import User
from engine.appeal_registers import repeats
from engine.errors import OknoError
from engine.read import worklist
from engine.read.worklist import MAX_LIMIT, MAX_SEARCH, SORTS, STATES, DeskFilter, Scope

router = APIRouter(include_in_schema=False)

DESK_ROLES = ("clerk", "supervisor", "auditor")
CLAIMERS = ("clerk", "supervisor")
MAX_CLAIM = MAX_LIMIT  # tasks claimed by one POST: at most one page
FILTER_KEYS = ("case", "applicant", "procedure", "step", "state", "due_from", "due_to", "assignee",
               "overdue", "sort", "limit", "offset")
STATE_TITLES = {"open": "ожидают выполнения", "done": "выполнены", "cancelled": "отменены"}
SORT_TITLES = {"due": "сначала ранний срок", "-due": "сначала поздний срок"}
LIMITS = (25, 50, 100)

templates.env.filters.setdefault("ru_date", ru_date)


def parse_filter(params: Mapping[str, str], procedures: Mapping[str, Any]) -> tuple[
        DeskFilter, dict[str, str], dict[str, str]]:
    """The desk's query string checked: the filter, the values as typed (to show them again),
    and the errors by field (Russian). A wrong value is left out of the filter."""
    typed = {k: str(params.get(k, "") or "").strip()[:200] for k in FILTER_KEYS}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in ("case", "applicant"):
        text = typed[key]
        if len(text) > MAX_SEARCH:
            errors[key] = f"Не длиннее {MAX_SEARCH} символов."
        elif "\x00" in text:
            errors[key] = "Недопустимый символ."
        elif text:
            values[key] = text
    if "case" in values and not all(c in "0123456789abcdefABCDEF-" for c in values["case"]):
        errors["case"] = "Номер дела состоит из цифр 0–9, букв a–f и дефисов."
        values.pop("case")
    if typed["procedure"]:
        if typed["procedure"] in procedures:
            values["procedure"] = typed["procedure"]
        else:
            errors["procedure"] = "Такой процедуры нет в перечне."
    if typed["step"]:
        values["step"] = typed["step"][:64]
    if typed["state"]:
        if typed["state"] in STATES:
            values["state"] = typed["state"]
        else:
            errors["state"] = "Выберите состояние из списка."
    for key in ("due_from", "due_to"):
        if typed[key]:
            try:
                values[key] = date.fromisoformat(typed[key])
            except ValueError:
                errors[key] = "Введите дату в формате ГГГГ-ММ-ДД."
    if "due_from" in values and "due_to" in values and values["due_from"] > values["due_to"]:
        errors["due_to"] = "Конец периода не раньше его начала."
        values.pop("due_to")
    if typed["assignee"]:
        values["assignee"] = typed["assignee"][:128]
    if typed["overdue"]:
        if typed["overdue"] in ("yes", "no"):
            values["overdue"] = typed["overdue"] == "yes"
        else:
            errors["overdue"] = "Выберите из списка."
    if typed["sort"]:
        if typed["sort"] in SORTS:
            values["sort"] = typed["sort"]
        else:
            errors["sort"] = "Выберите порядок из списка."
    for key, low, high in (("limit", 1, MAX_LIMIT), ("offset", 0, worklist.MAX_OFFSET)):
        if typed[key]:
            if typed[key].isdigit() and low <= int(typed[key]) <= high:
                values[key] = int(typed[key])
            else:
                errors[key] = f"Целое число от {low} до {high}."
    return DeskFilter(**values), typed, errors


def query_of(typed: Mapping[str, str], **changes: Any) -> str:
    """The desk's query string for the values as typed, with `changes` (empty values left out)."""
    merged = {**typed, **{k: ("" if v is None else str(v)) for k, v in changes.items()}}
    return urlencode([(k, merged[k]) for k in FILTER_KEYS if merged.get(k)])


def _procedures(request: Request) -> dict[str, Any]:
    """number -> the current version's Procedure (the catalog the filters offer)."""
    versions = request.app.state.okno.versions
    return {number: versions.get(version)
            for number, version in sorted(versions.current_versions().items())}


def _steps(procedures: Mapping[str, Any], chosen: str | None) -> list[tuple[str, str]]:
    """(step id, title) the step filter offers: the chosen procedure's, else every procedure's."""
    offered: dict[str, str] = {}
    for number, proc in procedures.items():
        if chosen is None or number == chosen:
            for step in proc.steps:
                offered.setdefault(step.id, step.title)
    return sorted(offered.items(), key=lambda item: item[1])


def _desk(request: Request, user: User) -> dict[str, Any]:
    svc = request.app.state.okno
    procedures = _procedures(request)
    flt, typed, errors = parse_filter(request.query_params, procedures)
    scope = Scope.of(user.role, user.name, user.org)
    page = worklist.desk_page(svc.db, scope, flt, user=user.name, today=svc.clock.today(),
                              calendar=svc.cases.calendar)
    query = query_of(typed)
    with svc.db.connect() as conn:  # the repeated appeals among the rows (engine.appeal_registers.repeats)
        repeated = repeats.repeated_among(conn, [item["case_id"] for item in page["items"]])
    for item in page["items"]:
        item["may_claim"] = user.role in CLAIMERS and may_claim(user, item)
        item["repeated"] = item["case_id"] in repeated
    offset, limit = page["offset"], page["limit"]
    return {
        "filter": flt, "typed": typed, "errors": errors, "page": page, "query": query,
        "procedures": procedures, "steps": _steps(procedures, flt.procedure),
        "staff": worklist.staff_of(svc.db, user.org) if user.role != "auditor" else [],
        "states": STATE_TITLES, "sorts": SORT_TITLES, "limits": LIMITS,
        "saved": saved_filters.list_filters(svc.db, user.name),
        "may_claim": user.role in CLAIMERS, "today": svc.clock.today(),
        "previous": query_of(typed, offset=max(0, offset - limit)) if offset else None,
        "next": (query_of(typed, offset=offset + limit)
                 if (offset + limit < page["total"] or page["total_capped"])
                 and len(page["items"]) == limit and offset + limit <= worklist.MAX_OFFSET
                 else None),
        "notice": _notice(request.query_params),
    }


def _notice(params: Mapping[str, str]) -> dict[str, Any] | None:
    """What the last claim or saved filter did, carried over the redirect."""
    claimed, failed = params.get("claimed", ""), params.get("failed", "")
    if claimed.isdigit() or failed.isdigit():
        reason = str(params.get("reason", ""))[:300]
        return {"claimed": int(claimed) if claimed.isdigit() else 0,
                "failed": int(failed) if failed.isdigit() else 0,
                "reason": reason if is_command_error(reason) else ""}
    return None


@router.get("/desk")
async def desk(request: Request) -> Response:
    user = await require_user(request, *DESK_ROLES)
    context = _desk(request, user)
    return render(request, "desk.html", context, status=422 if context["errors"] else 200)


@router.get("/desk/rows")
async def desk_rows(request: Request) -> Response:
    """The table part of the desk alone (what htmx polls)."""
    user = await require_user(request, *DESK_ROLES)
    context = _desk(request, user)
    return render(request, "desk_rows.html", context, status=422 if context["errors"] else 200)


@router.post("/desk/claim")
async def claim(request: Request) -> Response:
    """Claim the task of the row's button, or every checked task (at most one page)."""
    user = await require_user(request, *CLAIMERS)
    form = await checked_form(request)
    one = form.get("one")
    chosen = [str(one)] if one else [str(v) for v in form.getlist("tasks")]
    back = str(form.get("query") or "")[:2000]
    svc = request.app.state.okno
    claimed, failed, reason = 0, 0, ""
    for value in dict.fromkeys(chosen[:MAX_CLAIM]):
        case_id, _, task_id = value.partition("/")
        try:
            visible_task(svc, user, case_id[:64], task_id[:64])
            svc.cases.claim(case_id, task_id, actor=user.name)
            claimed += 1
        except (OknoError, ApiError) as exc:
            failed += 1
            reason = reason or command_error(exc)
    if not chosen:
        failed, reason = 0, "Отметьте задачи, которые хотите взять в работу."
    result = urlencode({"claimed": claimed, "failed": failed, "reason": reason})
    return RedirectResponse(f"/desk?{back}&{result}" if back else f"/desk?{result}",
                            status_code=303)


@router.post("/desk/filters")
async def save_filter(request: Request) -> Response:
    """Save the current filters under a name (the same name again replaces them)."""
    user = await require_user(request, *DESK_ROLES)
    form = await checked_form(request)
    query = str(form.get("query") or "")
    name = str(form.get("name") or "")[:200]
    svc = request.app.state.okno
    try:
        saved_filters.save_filter(svc.db, user.name, name, query, svc.cases.now())
    except OknoError as exc:
        context = _desk(request, user)
        context["filter_errors"] = {"filter-name": exc.detail[:1].upper() + exc.detail[1:] + "."}
        context["filter_name"] = name
        return render(request, "desk.html", context, status=422)
    return RedirectResponse(f"/desk?{query}" if query else "/desk", status_code=303)


@router.post("/desk/filters/delete")
async def delete_filter(request: Request) -> Response:
    user = await require_user(request, *DESK_ROLES)
    form = await checked_form(request)
    saved_filters.delete_filter(request.app.state.okno.db, user.name, str(form.get("name") or ""))
    return RedirectResponse("/desk", status_code=303)

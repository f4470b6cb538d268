"""The task form (`/cases/{id}/tasks/{task}`), generated from the step's fields in the definition.

Each field becomes an input by its type (text, number, date, yes/no, a choice); a decision step
adds the outcome and, for a refusal, its legal ground. The form is sent as typed text;
`form_values` turns it into the JSON types the engine checks (a number that is not one stays
text, so the engine says so), and the engine's `clean_form` reports every field at fault at once,
in Russian, shown next to each field and in a summary; the form comes back (422) with what was
typed. A valid form runs the same command as the JSON API (`complete_task`, `decide` or
`issue_result`) and redirects to the case page.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.access import STAFF
from api.pages.cases import DOCUMENT_TITLES
from api.pages.commands import command_error, visible_task
from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from api.problems import ApiError
from engine.accounts import User
from engine.definition.procedure import Field
from engine.errors import DocumentsMissing, InvalidForm, InvalidInput, OknoError
from engine.read import queries
from engine.runtime.forms import clean_form

router = APIRouter(include_in_schema=False)

MAX_ID = 64
MAX_VALUE = 20_000  # characters kept of one typed value (the engine's limit is 10,000)
_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")
_NUMBER = re.compile(r"[+-]?[0-9]{1,20}([.,][0-9]{1,20})?")
TYPE_HINTS = {"integer": "целое число", "number": "число", "date": "дата",
              "string": "", "text": "", "boolean": "", "choice": ""}


def input_name(field_id: str) -> str:
    """The HTML name and id of a field's input (prefixed: never clashes with csrf or outcome)."""
    return f"f_{field_id}"


def document_input(field: str) -> str:
    """The id of a document's row on the intake page (`documents.<id>` -> `doc-<id>`)."""
    return "doc-" + field.removeprefix("documents.")


def form_values(fields: tuple[Field, ...], form: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                            dict[str, str]]:
    """The step's data from the posted text, and the text as typed (to show it again)."""
    data: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for fld in fields:
        raw = str(form.get(input_name(fld.id)) or "")[:MAX_VALUE]
        typed[fld.id] = raw
        text = raw.strip() if fld.type not in ("string", "text") else raw
        if not text:
            continue  # absent: the engine says if it is required
        if fld.type == "integer" and _INTEGER.fullmatch(text):
            data[fld.id] = int(text)
        elif fld.type == "number" and _NUMBER.fullmatch(text):
            data[fld.id] = float(text.replace(",", "."))
        elif fld.type == "boolean" and text in ("yes", "no"):
            data[fld.id] = text == "yes"
        else:
            data[fld.id] = text  # as typed: the engine refuses what is not of the field's type
    return data, typed


def _capital(text: str) -> str:
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def form_errors(fields: tuple[Field, ...], data: dict[str, Any], kind: str,
                form: Mapping[str, Any], refusal_ids: set[str],
                outcome_ids: tuple[str, ...] = (), today: date | None = None) -> dict[str, str]:
    """Every error of the form, by input name (Russian): the decision's outcome and ground (an
    appeal's reply: an outcome of `outcome_ids`, no ground), then each field as the engine's
    `clean_form` finds it."""
    errors: dict[str, str] = {}
    if kind == "decision" and outcome_ids:
        if str(form.get("outcome") or "") not in outcome_ids:
            errors["outcome"] = "Выберите результат рассмотрения из списка."
    elif kind == "decision":
        outcome = str(form.get("outcome") or "")
        if outcome not in ("approve", "refuse"):
            errors["outcome"] = "Выберите решение: удовлетворить или отказать."
        elif outcome == "refuse" and str(form.get("ground") or "") not in refusal_ids:
            errors["ground"] = "Выберите основание отказа из списка."
    try:
        clean_form(fields, data, today)
    except InvalidForm as exc:
        for err in exc.errors:
            errors[input_name(err.field.removeprefix("data."))] = _capital(err.message)
    return errors


def _task_context(request: Request, user: User, case_id: str, task_id: str) -> dict[str, Any]:
    svc = request.app.state.okno
    visible_task(svc, user, case_id, task_id)
    view = queries.case_view(svc.db, case_id, svc.versions, svc.cases.calendar)
    if view is None:
        raise ApiError(404, f"case {case_id} does not exist")
    task = next((t for t in view["tasks"] if t["id"] == task_id), None)
    proc = svc.versions.get(view["version"])
    step = next((s for s in proc.steps if task is not None and s.id == task["step"]), None)
    return {"case": view, "task": task, "fields": step.fields if step else (),
            "step": step, "refusal_grounds": proc.refusal_grounds, "input_name": input_name,
            "appeal_outcomes": () if proc.is_procedure else proc.outcomes,
            "type_hints": TYPE_HINTS, "values": {}, "errors": {}, "form_error": None,
            "outcome": "", "ground": "", "document_titles": DOCUMENT_TITLES}


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    if context["task"] is None:
        return render(request, "task_gone.html", context, status=409 if status == 200 else status)
    labels = {input_name(f.id): f.title for f in context["fields"]}
    labels.update({document_input(d["id"]): d["title"] for d in context["case"]["documents"]})
    labels.update(outcome="Результат рассмотрения" if context["appeal_outcomes"] else "Решение",
                  ground="Основание отказа")
    return render(request, "task.html", {**context, "labels": labels}, status=status)


@router.get("/cases/{case_id}/tasks/{task_id}")
async def task_form(request: Request, case_id: str, task_id: str) -> Response:
    user = await require_user(request, *STAFF)
    try:
        context = _task_context(request, user, case_id[:MAX_ID], task_id[:MAX_ID])
    except ApiError as exc:
        return _refusal_page(request, exc)
    return _page(request, context)


def _refusal_page(request: Request, exc: ApiError) -> Response:
    if exc.status == 404:
        return render(request, "case_missing.html", {}, status=404)
    return render(request, "forbidden.html", {"reason": command_error(exc)}, status=403)


@router.post("/cases/{case_id}/tasks/{task_id}")
async def submit_task(request: Request, case_id: str, task_id: str) -> Response:
    """Check the form (every error at once), then run the step's command and go to the case."""
    user = await require_user(request, *STAFF)
    form = await checked_form(request)
    case_id, task_id = case_id[:MAX_ID], task_id[:MAX_ID]
    try:
        context = _task_context(request, user, case_id, task_id)
    except ApiError as exc:
        return _refusal_page(request, exc)
    if context["task"] is None:
        return _page(request, context)
    svc = request.app.state.okno
    kind = context["task"]["kind"]
    data, typed = form_values(context["fields"], form)
    outcome = str(form.get("outcome") or "")[:MAX_ID]
    ground = str(form.get("ground") or "")[:MAX_ID]
    context.update(values=typed, outcome=outcome, ground=ground)
    refusal_ids = {g.id for g in context["refusal_grounds"]}
    errors = form_errors(context["fields"], data, kind, form, refusal_ids,
                         tuple(o.id for o in context["appeal_outcomes"]), svc.cases.clock.today())
    if errors:
        return _page(request, {**context, "errors": errors}, status=422)
    try:
        if kind == "decision":
            svc.cases.decide(case_id, outcome, actor=user.name,
                             ground=ground if outcome == "refuse" else None, data=data,
                             task_id=task_id)
        elif kind == "issue":
            svc.cases.issue_result(case_id, actor=user.name, data=data, task_id=task_id)
        else:
            svc.cases.complete_task(case_id, task_id, data, actor=user.name)
    except InvalidForm as exc:  # checked above; a definition changed in between
        errors = {input_name(e.field.removeprefix("data.")): _capital(e.message) for e in exc.errors}
        return _page(request, {**context, "errors": errors}, status=422)
    except DocumentsMissing as exc:  # intake waits for the documents: each named by its row
        errors = {document_input(e.field): _capital(e.message) for e in exc.errors}
        return _page(request, {**context, "errors": errors}, status=409)
    except (OknoError, ApiError) as exc:
        status = 422 if isinstance(exc, InvalidInput) else 409
        return _page(request, {**context, "form_error": command_error(exc)}, status=status)
    return RedirectResponse(f"/cases/{case_id}?done={context['task']['step']}", status_code=303)

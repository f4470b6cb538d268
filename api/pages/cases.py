"""The case page (`/cases/{id}`) and the commands a clerk sends from it.

The page shows what engine.read.case_page reads: status, the document checklist, the fee, the
term and the working days left, suspensions and the extension, the audit trail, and the process
diagram drawn on the server as SVG from the BPMN (with its diagram) the case runs, the current
step highlighted and the done steps marked. SVG on the server rather than the bpmn-js viewer:
the picture is in the page itself, so it shows without JavaScript, a plain HTTP test can read
each step's state off it, the accessible name and text markers ("▶ сейчас", "✓ выполнен") are
ours to write for axe-core and screen readers, and no 1 MB viewer nor a second request for the
XML is needed. The steps are also listed with their state, for every reader.

Every action is a plain form posting to a page route here, which authorises like the JSON route
(api.access via api.pages.commands), calls the same `Cases` command, and redirects back to the
page (303); a refusal renders the page again with the reason in Russian (409, or 422 for input).
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.access import CASE_READERS, EVENT_READERS, STAFF
from api.pages import repeats as appeal_checks
from api.pages.commands import command_error, may_claim, ru_date, ru_datetime, visible_case, visible_task
from api.pages.rendering import render, templates
from api.pages.session import checked_form, require_user
from api.problems import ApiError
from engine.accounts import User
from engine.errors import InvalidInput, OknoError
from engine.money import fee_on
from engine.read import notices, printables
from engine.read.case_page import case_page
from engine.read.queries import case_fee
from engine.runtime.commands import MAX_RETRIES
from engine.statuses import DocumentStatus

router = APIRouter(include_in_schema=False)

PAGE_ROLES = tuple(r for r in CASE_READERS if r in EVENT_READERS)  # staff and auditors
MAX_ID, MAX_REASON = 64, 1000

STATUS_TITLES = {"open": "на рассмотрении", "suspended": "приостановлено",
                 "completed": "завершено", "withdrawn": "заявление отозвано",
                 "not_accepted": "в приёме заявления отказано", "closed": "в архиве"}
OUTCOME_TITLES = {"approved": "удовлетворено", "refused": "отказано",
                  "satisfied": "обращение удовлетворено", "not_satisfied": "в удовлетворении отказано",
                  "explained": "даны разъяснения",
                  "left_without_consideration": "оставлено без рассмотрения по существу",
                  "withdrawn": "обращение отозвано", "answered": "дан ответ"}
TYPE_TITLES = {"procedure": "Административная процедура", "appeal": "Обращение",
               "remarks": "Запись в книге замечаний и предложений"}
DOCUMENT_TITLES = {"presented": "представлен гражданином", "requested": "запрошен органом",
                   "received": "получен"}
TASK_STATES = {"open": "ожидает выполнения", "done": "выполнен", "cancelled": "отменён"}
STEP_STATES = {"current": "выполняется", "done": "выполнен", "waiting": "не начат"}
ACTIONS = {"start": "Заявление зарегистрировано", "claim": "Задача взята в работу",
           "unclaim": "Задача возвращена в общий список", "complete": "Шаг выполнен",
           "document": "Отмечен документ", "suspend": "Рассмотрение приостановлено",
           "resume": "Рассмотрение возобновлено", "withdraw": "Заявление отозвано",
           "refuse_acceptance": "Отказано в приёме заявления", "overdue": "Срок истёк",
           "timer": "Наступил срок таймера", "close": "Дело сдано в архив",
           "forward": "Обращение направлено по компетенции", "extend": "Срок продлён",
           "leave": "Оставлено без рассмотрения по существу", "reply": "Ответ дан",
           "terminate": "Переписка с заявителем по этому вопросу прекращена",
           "migrate": "Дело переведено на новую версию процедуры",
           "external_complete": "Внешняя задача выполнена",
           "external_failure": "Внешняя задача завершилась ошибкой",
           "external_retries": "Инцидент внешней задачи снят: задача перезапущена",
           "message": "Получено сообщение"}
CHANNELS = {"in_person": "лично", "post": "по почте", "portal": "через портал",
            "written": "письменно", "oral": "устно, на личном приёме", "electronic": "в электронной форме"}
MAX_REPLY, MAX_NOTE = 20_000, 4000
EXTERNAL_STATES = {"incident": "инцидент: попытки исчерпаны, нужно решение руководителя",
                   "locked": "выполняется внешним исполнителем",
                   "retry_wait": "ошибка, ожидает повторной попытки",
                   "waiting": "ожидает внешнего исполнителя"}

templates.env.filters.setdefault("ru_date", ru_date)
templates.env.filters.setdefault("ru_datetime", ru_datetime)


def _label_lines(name: str, width: int = 14, lines: int = 4) -> list[str]:
    """A node's name broken into short lines for the diagram (the full name is its tooltip)."""
    words, out, line = name.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out


def _local_date(at: datetime, zone: ZoneInfo) -> date:
    """The day `at` (UTC; SQLite hands it back naive) falls on in the authority's time zone."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).date()


def page_context(request: Request, user: User, case_id: str) -> dict[str, Any]:
    """What the case page shows `user` (ApiError 404 if the case is not theirs to see)."""
    svc = request.app.state.okno
    visible_case(svc, user, case_id)
    case = case_page(svc.db, case_id, svc.versions, today=svc.clock.today(),
                     calendar=svc.cases.calendar)
    if case is None:  # deleted between the two reads: as absent
        raise ApiError(404, f"case {case_id} does not exist")
    staff = user.role in STAFF
    active = case["status"] in ("open", "suspended")
    for task in case["tasks"]:
        task["may_claim"] = staff and may_claim(user, task)
        task["may_do"] = staff and task["assignee"] in (None, user.name) and (
            task["acts_as"] != "supervisor" or user.role == "supervisor")
    for node in case["diagram"]["nodes"]:
        node["lines"] = _label_lines(node["name"] or node["id"])
    now = svc.clock.now()
    for ext in case["external_tasks"]:
        ext["state"] = _external_state(ext, now)
    appeal = case["appeal"]
    decision = next((t for t in case["tasks"] if t["kind"] == "decision" and t["may_do"]), None)
    return {
        "case": case, "staff": staff, "active": active, "types": TYPE_TITLES,
        "may_appeal": bool(appeal) and staff and active,
        "forward_to": ([(a.id, a.name) for a in svc.authorities.get() if a.id != case["authority"]]
                       if appeal and appeal["forwarding"] else []),
        "extensions": [e for e in (appeal or {}).get("extensions", ())
                       if e["id"] != case["appeal_extension"]
                       and e["requires"] == case["appeal_extension"]
                       and (e["requires"] is not None or case["appeal_extension"] is None)],
        "reply_task": decision if appeal and staff and active else None,
        "fee_byn": fee_on(case_fee(svc.versions.get(case["version"]),
                                   (case.get("option") or {}).get("id")), svc.base_units.get(),
                          _local_date(case["started_at"], svc.settings.timezone)),
        "printables": [kind for kind in printables.KINDS if printables.exists(case, kind)],
        "notices": notices.case_notices(svc.db, case_id),
        "may_withdraw": active and staff,
        "may_reset_incidents": active and user.role == "supervisor",
        "external_states": EXTERNAL_STATES, "max_retries": MAX_RETRIES,
        "may_suspend": staff and case["status"] == "open" and case["suspension_allowed"],
        "may_resume": staff and case["status"] == "suspended",
        "zone": svc.settings.timezone,
        "statuses": STATUS_TITLES, "outcomes": OUTCOME_TITLES, "document_titles": DOCUMENT_TITLES,
        "document_statuses": [s.value for s in DocumentStatus], "task_states": TASK_STATES,
        "step_states": STEP_STATES, "actions": ACTIONS, "channels": CHANNELS,
        "step_titles": {s["id"]: s["title"] for s in case["steps"]},
        "doc_titles": {d["id"]: d["title"] for d in case["documents"]},
        "ground_titles": {g.id: g.title for g in case["suspension_grounds"]},
        "done": str(request.query_params.get("done", ""))[:64],
        "appeal_flags": appeal_checks.flags(svc, case_id),  # None unless an appeal
    }


def _external_state(task: dict[str, Any], now: datetime) -> str:
    """incident, locked (a worker holds it), retry_wait (failed; fetchable after its timeout),
    or waiting (any worker may fetch it)."""
    if task["incident"]:
        return "incident"
    until = task["lock_expires_at"]
    if until is not None and (until if until.tzinfo else until.replace(tzinfo=UTC)) > now:
        return "locked" if task["locked_by"] else "retry_wait"
    return "waiting"


def _missing(request: Request) -> Response:
    return render(request, "case_missing.html", {}, status=404)


@router.get("/cases/{case_id}")
async def case(request: Request, case_id: str) -> Response:
    user = await require_user(request, *PAGE_ROLES)
    try:
        context = page_context(request, user, case_id[:MAX_ID])
    except ApiError:
        return _missing(request)
    return render(request, "case.html", context)


def _refused(request: Request, user: User, case_id: str, exc: OknoError | ApiError,
             action: str) -> Response:
    """The case page again, with the refusal in Russian next to the action."""
    try:
        context = page_context(request, user, case_id)
    except ApiError:
        return _missing(request)
    context["action_error"] = {"action": action, "text": command_error(exc)}
    status = 422 if isinstance(exc, InvalidInput) else getattr(exc, "status", 409)
    return render(request, "case.html", context, status=status if status in (403, 404, 422) else 409)


def _back(case_id: str, done: str = "") -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}" + (f"?done={done}" if done else ""),
                            status_code=303)


async def _run(request: Request, case_id: str, action: str, roles: tuple[str, ...], command) -> Response:
    """The shape of every action: the user, the CSRF-checked form, the command, back to the page."""
    user = await require_user(request, *roles)
    form = await checked_form(request)
    svc = request.app.state.okno
    case_id = case_id[:MAX_ID]
    try:
        visible_case(svc, user, case_id)
        command(svc, user, form)
    except (OknoError, ApiError) as exc:
        return _refused(request, user, case_id, exc, action)
    return _back(case_id, action)


@router.post("/cases/{case_id}/tasks/{task_id}/claim")
async def claim(request: Request, case_id: str, task_id: str) -> Response:
    def command(svc, user, form) -> None:
        visible_task(svc, user, case_id, task_id[:MAX_ID])
        svc.cases.claim(case_id, task_id[:MAX_ID], actor=user.name)
    return await _run(request, case_id, "claim", STAFF, command)


@router.post("/cases/{case_id}/tasks/{task_id}/unclaim")
async def unclaim(request: Request, case_id: str, task_id: str) -> Response:
    def command(svc, user, form) -> None:
        visible_task(svc, user, case_id, task_id[:MAX_ID])
        svc.cases.unclaim(case_id, task_id[:MAX_ID], actor=user.name)
    return await _run(request, case_id, "unclaim", STAFF, command)


@router.post("/cases/{case_id}/documents")
async def record_document(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        svc.cases.record_document(case_id, str(form.get("document") or "")[:MAX_ID],
                                  str(form.get("status") or "")[:16], actor=user.name)
    return await _run(request, case_id, "document", STAFF, command)


@router.post("/cases/{case_id}/suspend")
async def suspend(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        ground = str(form.get("ground") or "").strip()[:MAX_ID]
        if not ground:
            raise InvalidInput("ground is required", field="ground")
        svc.cases.suspend(case_id, ground, actor=user.name)
    return await _run(request, case_id, "suspend", STAFF, command)


@router.post("/cases/{case_id}/resume")
async def resume(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        svc.cases.resume(case_id, actor=user.name)
    return await _run(request, case_id, "resume", STAFF, command)


@router.post("/cases/{case_id}/withdraw")
async def withdraw(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        reason = str(form.get("reason") or "").strip()[:MAX_REASON] or None
        svc.cases.withdraw(case_id, actor=user.name, reason=reason)
    return await _run(request, case_id, "withdraw", STAFF, command)


# ------------------------------------------------------------------- appeals (Law 300-З)

def _form_text(form, name: str, limit: int, *, required: bool = True) -> str | None:
    value = str(form.get(name) or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} must be at most {limit} characters", field=name)
    if required and not value:
        raise InvalidInput(f"{name} is required", field=name)
    return value or None


@router.post("/cases/{case_id}/forward")
async def forward(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        svc.cases.forward(case_id, _form_text(form, "to", MAX_ID), actor=user.name,
                          note=_form_text(form, "note", MAX_NOTE, required=False))
    return await _run(request, case_id, "forward", STAFF, command)


@router.post("/cases/{case_id}/extend")
async def extend(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        svc.cases.extend(case_id, _form_text(form, "extension", MAX_ID), actor=user.name)
    return await _run(request, case_id, "extend", STAFF, command)


@router.post("/cases/{case_id}/leave")
async def leave(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        svc.cases.leave(case_id, _form_text(form, "ground", MAX_ID), actor=user.name,
                        note=_form_text(form, "note", MAX_NOTE, required=False))
    return await _run(request, case_id, "leave", STAFF, command)


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, case_id: str) -> Response:
    def command(svc, user, form) -> None:
        task_id = _form_text(form, "task", MAX_ID)
        visible_task(svc, user, case_id, task_id)
        svc.cases.reply(case_id, _form_text(form, "outcome", MAX_ID),
                        _form_text(form, "reply", MAX_REPLY), actor=user.name, task_id=task_id)
    return await _run(request, case_id, "reply", STAFF, command)


# ------------------------------------------------------------------- external tasks

@router.post("/cases/{case_id}/external-tasks/{task_id}/retries")
async def reset_retries(request: Request, case_id: str, task_id: str) -> Response:
    """A supervisor resets an incident from the case page: the task gets the retries typed."""
    def command(svc, user, form) -> None:
        raw = str(form.get("retries") or "").strip()[:8]
        if not raw.isdigit():
            raise InvalidInput("retries must be a whole number", field="retries")
        svc.cases.reset_retries(task_id[:MAX_ID], int(raw), actor=user.name, authority=user.org,
                                case_id=case_id[:MAX_ID])
    return await _run(request, case_id, "external_retries", ("supervisor",), command)

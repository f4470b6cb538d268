"""The supervisor's dashboard: their authority's figures as charts, and reassigning its tasks.

`GET /dashboard` shows the cases by status, the overdue cases, the load by procedure and by
clerk, and the on-time share per month, each as an SVG chart drawn on the server (templates
`charts.html`: role="img" with a title, and a data table under it, so every figure reads
without sight and without JavaScript; no charting script to load, nothing for the CSP to allow),
then the authority's open tasks, each with a form giving it to a named clerk
(`POST /dashboard/assign`, the same use case as `POST /api/cases/{id}/tasks/{task}/assign`).
The figures are the read queries of `engine.read.dashboard`, always for the signed-in
supervisor's own organisation: no parameter names another one.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from engine.accounts import User
from engine.errors import Conflict, Forbidden, InvalidInput, NotAllowed, NotFound, OknoError
from engine.read import dashboard
from engine.statuses import CaseStatus

router = APIRouter(include_in_schema=False)

PAGE = 50
MONTHS = 12
STATUS_RU = {CaseStatus.OPEN: "в работе", CaseStatus.SUSPENDED: "приостановлены",
             CaseStatus.COMPLETED: "завершены", CaseStatus.WITHDRAWN: "отозваны",
             CaseStatus.NOT_ACCEPTED: "не приняты", CaseStatus.CLOSED: "в архиве"}
ROLE_RU = {"clerk": "специалист", "supervisor": "руководитель"}
MONTHS_RU = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
             "сентябрь", "октябрь", "ноябрь", "декабрь")
# What a refused reassignment says, by the engine's error (Russian, next to the field).
REFUSED = {
    InvalidInput: "Выберите специалиста своего органа с действующей учётной записью; "
                  "задачу руководителя можно поручить только руководителю.",
    NotAllowed: "Задача уже не ждёт исполнителя: дело продвинулось. Обновите страницу.",
    NotFound: "Такой открытой задачи в делах вашего органа нет.",
    Forbidden: "Такой открытой задачи в делах вашего органа нет.",
    Conflict: "Дело изменилось одновременно с вашим действием. Попробуйте ещё раз.",
}
MAX_ID = 64


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, offset: int = Query(0, ge=0, le=1_000_000),
                         assigned: str | None = Query(None, max_length=MAX_ID)) -> Response:
    user = await require_user(request, "supervisor")
    return _page(request, user, offset=offset, assigned=assigned)


@router.post("/dashboard/assign", response_class=HTMLResponse)
async def assign(request: Request) -> Response:
    """Give an open task to the clerk picked in its row; refused: the dashboard again (422) with
    the reason next to that row's field and the choice kept."""
    user = await require_user(request, "supervisor")
    form = await checked_form(request)
    case_id, task_id = (str(form.get(k) or "")[:MAX_ID] for k in ("case_id", "task_id"))
    assignee = str(form.get("assignee") or "").strip()
    offset = _offset(form.get("offset"))
    field = f"assignee-{task_id}"
    if not assignee:
        errors = {field: "Выберите, кому поручить задачу."}
    elif len(assignee) > 128:
        errors = {field: REFUSED[InvalidInput]}
    else:
        try:
            request.app.state.okno.cases.reassign(case_id, task_id, assignee, actor=user.name)
        except OknoError as exc:
            errors = {field: _refusal(exc)}
        else:
            query = urlencode({"assigned": task_id, **({"offset": offset} if offset else {})})
            return RedirectResponse(f"/dashboard?{query}#tasks", status_code=303)
    return _page(request, user, offset=offset, errors=errors, chosen={task_id: assignee},
                 status=422)


def _page(request: Request, user: User, *, offset: int, assigned: str | None = None,
          errors: dict[str, str] | None = None, chosen: dict[str, str] | None = None,
          status: int = 200) -> Response:
    svc = request.app.state.okno
    org, today = user.org, svc.clock.today()
    offset_hours = svc.clock.now().astimezone(svc.clock.zone).utcoffset()
    with svc.db.connect() as conn:
        by_status = dashboard.cases_by_status(conn, org)
        overdue = dashboard.overdue_cases(conn, org, today, limit=PAGE)
        by_procedure = dashboard.load_by_procedure(conn, org, today)
        by_clerk = dashboard.load_by_clerk(conn, org, today)
        on_time = dashboard.on_time_share(conn, org, today, months=MONTHS, utc_offset=offset_hours)
        open_tasks = dashboard.open_tasks(conn, org, limit=PAGE, offset=offset)
        staff = dashboard.assignable_staff(conn, org)
    names = _names(svc, {row["number"] for row in by_procedure}
                   | {t["number"] for t in open_tasks["items"]})
    notice = None
    if assigned:
        held = next((t for t in open_tasks["items"] if t["id"] == assigned), None)
        notice = (f"Задача «{held['title']}» поручена: {held['assignee']}." if held
                  else "Задача переназначена.")
    return render(request, "dashboard.html", {
        "org": org, "org_name": _authority_name(svc, org), "today": today,
        "by_status": [{"label": STATUS_RU[s], "value": by_status[s.value]} for s in CaseStatus],
        "overdue": overdue, "by_procedure": by_procedure, "by_clerk": by_clerk,
        "procedure_chart": [{"label": f"{r['number']} {names.get(r['number'], '')}",
                             "value": r["active"], "late": r["overdue"]} for r in by_procedure],
        "clerk_chart": [{"label": r["assignee"] or "не назначены", "value": r["open"],
                         "late": r["overdue"]} for r in by_clerk],
        "on_time": [{**m, "label": f"{MONTHS_RU[m['start'].month - 1]} {m['start'].year}",
                     "short": m["start"].strftime("%m.%y")} for m in on_time],
        "open_tasks": open_tasks, "staff": staff, "names": names, "role_ru": ROLE_RU,
        "errors": errors or {}, "chosen": chosen or {}, "notice": notice, "page": PAGE,
    }, status=status)


def _authority_name(svc: Any, org: str) -> str:
    """The authority's official name from the catalog (its code when it is not there)."""
    authority = svc.authorities.get().get(org)
    return authority.name if authority is not None else org


def _names(svc: Any, numbers: set[str]) -> dict[str, str]:
    """number -> the procedure's name as the current definition has it."""
    current = svc.versions.current_versions()
    return {n: svc.versions.get(current[n]).name for n in numbers if n in current}


def _refusal(exc: OknoError) -> str:
    return next((text for kind, text in REFUSED.items() if isinstance(exc, kind)),
                REFUSED[NotAllowed])


def _offset(value: Any) -> int:
    try:
        return max(0, min(int(str(value or 0)), 1_000_000))
    except ValueError:
        return 0

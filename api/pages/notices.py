"""Notices as pages: one notice of a case for print, and the outbox for a supervisor.

- `/cases/{id}/notices/{notice_id}`: the notice as the stored document it is (its authority's
  heading, registration number, addressee, title, text), laid out for an A4 sheet like the other
  printables (`document.css`), with its e-mail delivery on screen only. Who may see it is who may
  see the case (api.access); any other case, and a notice the case does not have, answer 404.
- `/notices`: how the supervisor's organisation's notices are delivered (an auditor: every
  organisation's): counts by status, whether an SMTP server is configured, and every notice that
  failed or waits after a failed attempt with the server's answer; a supervisor sends a failed
  one again (`POST /notices/retry`, the use case `okno notices retry` calls).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.access import CASE_READERS, can_see
from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from engine.accounts import User
from engine.errors import NotAllowed, NotFound, OknoError
from engine.notices import outbox
from engine.read import notices, queries

router = APIRouter(include_in_schema=False)
MAX_ID = 64
PAGE = 100
STATUS_RU = {"pending": "ожидает отправки", "sending": "отправляется", "sent": "отправлено",
             "failed": "не отправлено"}
REFUSED = {NotFound: "Такого уведомления в делах вашего органа нет.",
           NotAllowed: "Уведомление уже не в состоянии «не отправлено»: обновите страницу."}


@router.get("/cases/{case_id}/notices/{notice_id}", response_class=HTMLResponse)
async def notice_page(request: Request, case_id: str, notice_id: str) -> Response:
    """One notice of a case the user may see, for print; 404 if there is none."""
    user = await require_user(request, *CASE_READERS)
    document = await run_in_threadpool(_notice, request, user, case_id, notice_id)
    if document is None:
        return render(request, "print/missing.html", {"case_id": case_id}, status=404)
    return render(request, "print/notice.html", document)


def _notice(request: Request, user: User, case_id: str, notice_id: str) -> dict[str, Any] | None:
    svc = request.app.state.okno
    if len(case_id) > MAX_ID or len(notice_id) > MAX_ID:
        return None
    facts = queries.case_facts(svc.db, case_id)
    if facts is None or not can_see(user, facts):
        return None  # another authority's case is as absent as one that does not exist
    notice = notices.notice(svc.db, case_id, notice_id)
    if notice is None:
        return None
    code = notice["case"]["authority"]
    delivery = notice["delivery"]
    return {"notice": notice, "authority": svc.authorities.get().get(code), "authority_code": code,
            "paragraphs": [p for p in notice["body"].split("\n\n") if p.strip()],
            "status_ru": STATUS_RU, "created_ru": _local(svc, notice["created_at"]),
            "sent_ru": _local(svc, delivery["sent_at"]) if delivery else None}


def _local(svc: Any, at: datetime | None) -> str | None:
    """A stored (UTC) time as the clock's local date and time, as a Russian reader writes it."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(svc.clock.zone).strftime(
        "%d.%m.%Y %H:%M")


@router.get("/notices", response_class=HTMLResponse)
async def outbox_page(request: Request,
                      retried: str | None = Query(None, max_length=MAX_ID)) -> Response:
    user = await require_user(request, "supervisor", "auditor")
    return await run_in_threadpool(_page, request, user, retried=retried)


@router.post("/notices/retry", response_class=HTMLResponse)
async def retry(request: Request) -> Response:
    """Send a failed notice again; refused: the page again (422) with the reason by its row."""
    user = await require_user(request, "supervisor")
    form = await checked_form(request)
    notice_id = str(form.get("notice_id") or "")[:MAX_ID]
    svc = request.app.state.okno
    try:
        outbox.retry(svc.db, notice_id, svc.cases.now(), authority=user.org)
    except OknoError as exc:
        message = next((text for kind, text in REFUSED.items() if isinstance(exc, kind)),
                       REFUSED[NotAllowed])
        return _page(request, user, errors={f"retry-{notice_id}": message}, status=422)
    return RedirectResponse(f"/notices?{urlencode({'retried': notice_id})}", status_code=303)


def _page(request: Request, user: User, *, retried: str | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc = request.app.state.okno
    authority = None if user.role == "auditor" else user.org
    with svc.db.connect() as conn:
        counts = notices.outbox_counts(conn, authority)
        rows = notices.outbox_rows(conn, errors_only=True, authority=authority, limit=PAGE)
    org = svc.authorities.get().get(user.org) if authority else None
    for row in rows:
        row["next_ru"] = _local(svc, row["next_attempt_at"])
        row["created_ru"] = _local(svc, row["created_at"])
    return render(request, "notices.html", {
        "counts": counts, "rows": rows, "status_ru": STATUS_RU, "errors": errors or {},
        "smtp_configured": svc.settings.smtp_host is not None, "retried": retried,
        "org_name": (org.name if org else user.org) if authority else None,
        "can_retry": user.role == "supervisor", "page": PAGE,
    }, status=status)

"""What is known of notices: a case's notices with their delivery, one notice to print, and the
outbox as the operator sees it (counts by status, the rows that failed or wait after an error).

Everything here reads `notices` and `outbox` (and the case row the notice belongs to); nothing
loads a workflow. The outbox views take an `authority` to show one organisation's notices only
(a supervisor's page), or None for all (the operator's command line, auditors).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from engine.statuses import OutboxStatus
from engine.store.tables import cases, notices, outbox

MAX_LIST = 200
_DELIVERY = (outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.last_error,
             outbox.c.sent_at, outbox.c.message_id)


def href(case_id: str, notice_id: str) -> str:
    """The printable page of a notice."""
    return f"/cases/{case_id}/notices/{notice_id}"


def case_notices(db: Engine | Connection, case_id: str) -> list[dict[str, Any]]:
    """The notices of a case, oldest first, each with its delivery (None: printed, not e-mailed)."""
    stmt = (select(notices.c.id, notices.c.kind, notices.c.title, notices.c.recipient,
                   notices.c.created_at, notices.c.due_by, *_DELIVERY)
            .select_from(notices.outerjoin(outbox, outbox.c.notice_id == notices.c.id))
            .where(notices.c.case_id == case_id).order_by(notices.c.created_at, notices.c.id)
            .limit(MAX_LIST))
    with _connection(db) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"id": r["id"], "kind": r["kind"], "title": r["title"], "recipient": r["recipient"],
             "created_at": r["created_at"], "due_by": r["due_by"], "href": href(case_id, r["id"]),
             "delivery": _delivery(r)} for r in rows]


def notice(db: Engine | Connection, case_id: str, notice_id: str) -> dict[str, Any] | None:
    """One notice of the case, its text and delivery, with what the printed sheet shows of the
    case; None if the case has no such notice."""
    stmt = (select(notices, cases.c.reg_number, cases.c.applicant, cases.c.authority,
                   cases.c.number, cases.c.start_date, *_DELIVERY)
            .select_from(notices.join(cases, cases.c.id == notices.c.case_id)
                         .outerjoin(outbox, outbox.c.notice_id == notices.c.id))
            .where(notices.c.id == notice_id, notices.c.case_id == case_id))
    with _connection(db) as conn:
        row = conn.execute(stmt).mappings().one_or_none()
    if row is None:
        return None
    return {"id": row["id"], "case_id": row["case_id"], "kind": row["kind"], "title": row["title"],
            "body": row["body"], "recipient": row["recipient"], "created_at": row["created_at"],
            "due_by": row["due_by"], "href": href(case_id, row["id"]),
            "case": {"reg_number": row["reg_number"], "applicant": row["applicant"],
                     "authority": row["authority"], "number": row["number"],
                     "start_date": row["start_date"]},
            "delivery": _delivery(row)}


def outbox_counts(db: Engine | Connection, authority: str | None = None) -> dict[str, int]:
    """How many notices are in each delivery status (every status named, 0 if none), and how
    many of the pending ones wait after a failed attempt (`retrying`)."""
    erred = outbox.c.last_error.is_not(None)
    stmt = select(outbox.c.status, erred, func.count()).group_by(outbox.c.status, erred)
    stmt = _of(stmt, authority)
    counts = {status.value: 0 for status in OutboxStatus} | {"retrying": 0}
    with _connection(db) as conn:
        for status, erred, n in conn.execute(stmt):
            counts[status] = counts.get(status, 0) + n
            if status == OutboxStatus.PENDING and erred:
                counts["retrying"] += n
    return counts


def outbox_rows(db: Engine | Connection, *, status: str | None = None, errors_only: bool = False,
                authority: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Outbox rows, the next attempt soonest first: of one `status`, or (`errors_only`) the
    failed ones and the pending ones whose last attempt failed. At most `limit` (≤ 200)."""
    stmt = (select(outbox.c.notice_id, outbox.c.address, *_DELIVERY, notices.c.case_id,
                   notices.c.title, notices.c.created_at, cases.c.reg_number, cases.c.authority)
            .order_by(outbox.c.next_attempt_at, outbox.c.notice_id)
            .limit(max(1, min(limit, MAX_LIST))))
    if status is not None:
        stmt = stmt.where(outbox.c.status == status)
    if errors_only:
        stmt = stmt.where(outbox.c.status.in_((OutboxStatus.FAILED.value, OutboxStatus.PENDING.value)),
                          outbox.c.last_error.is_not(None))
    stmt = _of(stmt, authority, joined=True)
    with _connection(db) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{"notice_id": r["notice_id"], "case_id": r["case_id"], "reg_number": r["reg_number"],
             "authority": r["authority"], "title": r["title"], "address": r["address"],
             "created_at": r["created_at"], "href": href(r["case_id"], r["notice_id"]),
             **_delivery(r)} for r in rows]


def _of(stmt, authority: str | None, joined: bool = False):
    """`stmt` over the outbox joined to its notices and their cases (for `authority`)."""
    if joined or authority is not None:
        stmt = stmt.select_from(outbox.join(notices, notices.c.id == outbox.c.notice_id)
                                .join(cases, cases.c.id == notices.c.case_id))
    return stmt if authority is None else stmt.where(cases.c.authority == authority)


def _delivery(row) -> dict[str, Any] | None:
    if row["status"] is None:
        return None
    return {"status": row["status"], "attempts": row["attempts"],
            "next_attempt_at": row["next_attempt_at"], "last_error": row["last_error"],
            "sent_at": row["sent_at"], "message_id": row["message_id"]}


def _connection(db: Engine | Connection):
    return nullcontext(db) if isinstance(db, Connection) else db.connect()

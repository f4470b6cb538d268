"""Appeals listed for a client that tracks them (the Open311 face, api/routes/open311.py): the
appeals one account may see, filtered, newest first, a bounded page; no workflow is read."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from engine.statuses import ACTIVE
from engine.store.tables import cases

MAX_LIMIT = 1000
ACTIVE_STATUSES = tuple(sorted(s.value for s in ACTIVE))
# Columns of CORE's migration (issue 15: the appeal's text and postal address); read when the
# schema has them (before that merge they are not there).
_QUESTION, _ADDRESS = cases.c.get("question"), cases.c.get("address")


def appeals(db: Engine | Connection, *, authority: str | None = None,
            applicant_user: str | None = None, ids: Sequence[str] = (),
            since: datetime | None = None, until: datetime | None = None,
            number: str | None = None, topic: str | None = None, open_: bool | None = None,
            limit: int = 50) -> list[dict[str, Any]]:
    """The appeals matching every filter given (`ids` wins over the registration times), newest
    registered first, at most `limit` (1 to MAX_LIMIT)."""
    where = [cases.c.type == "appeal"]
    if authority is not None:
        where.append(cases.c.authority == authority)
    if applicant_user is not None:
        where.append(cases.c.applicant_user == applicant_user)
    if ids:
        where.append(cases.c.id.in_(list(ids)))
    else:
        if since is not None:
            where.append(cases.c.started_at >= since)
        if until is not None:
            where.append(cases.c.started_at < until)
    if number is not None:
        where.append(cases.c.number == number)
    if topic is not None:
        where.append(cases.c.topic == topic)
    if open_ is True:
        where.append(cases.c.status.in_(ACTIVE_STATUSES))
    elif open_ is False:
        where.append(cases.c.status.not_in(ACTIVE_STATUSES))
    columns = [cases.c.id, cases.c.number, cases.c.topic, cases.c.kind, cases.c.status,
               cases.c.outcome, cases.c.authority, cases.c.reg_number, cases.c.started_at,
               cases.c.closed_at, cases.c.due_date,
               *(c for c in (_QUESTION, _ADDRESS) if c is not None)]
    query = (select(*columns).where(*where).order_by(cases.c.started_at.desc(), cases.c.id)
             .limit(max(1, min(int(limit), MAX_LIMIT))))
    if isinstance(db, Connection):
        rows = db.execute(query).all()
    else:
        with db.connect() as conn:
            rows = conn.execute(query).all()
    return [{"question": None, "address": None, **dict(r._mapping)} for r in rows]


def reg_number(db: Engine, case_id: str) -> str | None:
    """The registration number of a case (None before it has one)."""
    with db.connect() as conn:
        return conn.execute(select(cases.c.reg_number).where(cases.c.id == case_id)).scalar()

"""The applicant's cabinet: their own appeals and administrative-procedure cases, and the notices
and replies each holds — read from the tables, for the account that is theirs only.

A case is the applicant's when `cases.applicant_user` is their account (the ones they filed, and
those a clerk registered naming their account); a name typed by a clerk never links one. Every
query filters by it, so no other applicant's case is ever read: `case_of` answers None for a case
that is not theirs, exactly as for one that does not exist.

`withdrawable`: an administrative procedure may be withdrawn while it is open or suspended
(Law 433-З: at any time before it ends); an appeal only while open, before it is answered or left
without consideration (Law 300-З: before consideration on the merits ends it).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from engine.notices import refusal
from engine.read.form_data import case_form_data
from engine.read.result_validity import valid_until
from engine.statuses import ACTIVE, CaseStatus
from engine.store.tables import cases, notices, procedure_versions
from engine.store.versions import Versions
from engine.terms import WorkCalendar

MAX_PAGE = 100
MAX_NOTICES = 200  # of one case, newest last
TYPES = ("procedure", "appeal", "remarks")

_COLUMNS = (cases.c.id, cases.c.type, cases.c.number, procedure_versions.c.name.label("procedure"),
            cases.c.reg_number, cases.c.kind, cases.c.topic, cases.c.status, cases.c.outcome,
            cases.c.ground, cases.c.authority, cases.c.channel, cases.c.started_at,
            cases.c.start_date, cases.c.due_date, cases.c.overdue, cases.c.closed_at)


def withdrawable(case_type: str, status: str) -> bool:
    if case_type == "procedure":
        return status in ACTIVE
    return status == CaseStatus.OPEN


def _item(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["overdue"] = bool(item["overdue"])
    item["withdrawable"] = withdrawable(item["type"], item["status"])
    return item


def my_cases(conn: Connection, applicant_user: str, *, case_type: str | None = None,
             limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of the applicant's cases (of one type, if given), newest first, and the total."""
    limit = max(1, min(limit, MAX_PAGE))
    where = [cases.c.applicant_user == applicant_user]
    if case_type is not None:
        where.append(cases.c.type == case_type)
    total = conn.execute(select(func.count()).select_from(cases).where(*where)).scalar_one()
    rows = conn.execute(select(*_COLUMNS)
                        .join_from(cases, procedure_versions,
                                   procedure_versions.c.version == cases.c.version)
                        .where(*where).order_by(cases.c.started_at.desc(), cases.c.id.desc())
                        .limit(limit).offset(offset)).all()
    return {"items": [_item(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def case_of(conn: Connection, applicant_user: str, case_id: str, versions: Versions | None = None,
            calendar: WorkCalendar | None = None) -> dict[str, Any] | None:
    """One of the applicant's cases, with its question (an appeal's text) and its notices (the
    reply among them), oldest first, and (given `versions`) its `refusal` (the ground's text and
    the appeal route, `engine.notices.refusal`); None when it is not theirs or does not exist."""
    row = conn.execute(select(*_COLUMNS, cases.c.question, cases.c.version)
                       .join_from(cases, procedure_versions,
                                  procedure_versions.c.version == cases.c.version)
                       .where(cases.c.id == case_id,
                              cases.c.applicant_user == applicant_user)).first()
    if row is None:
        return None
    found = conn.execute(select(notices.c.id, notices.c.kind, notices.c.title, notices.c.body,
                                notices.c.created_at, notices.c.due_by)
                         .where(notices.c.case_id == case_id)
                         .order_by(notices.c.created_at, notices.c.id).limit(MAX_NOTICES)).all()
    item = _item(row)
    item["notices"] = [{**n._mapping, "href": f"/cases/{case_id}/notices/{n.id}"} for n in found]
    item["refusal"] = (refusal.of_case(versions.get(item["version"]), item, calendar)
                       if versions is not None else None)
    item["valid_until"] = (valid_until(versions.get(item["version"]), item,
                                       case_form_data(conn, case_id))
                           if versions is not None and item["outcome"] == "approved" else None)
    return item

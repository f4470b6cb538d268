"""The supervisor's dashboard: one authority's figures, aggregated in SQL.

Every query is scoped to one authority and answers a bounded result: counts grouped by a small key
(status, procedure number, assignee, month), or one page of rows. No case is loaded into Python
to be counted, and no workflow is read. The indexes they use (migration 0010):
`ix_cases_authority_status_due` (authority, status, due_date, number) serves the overdue cases and
the load by procedure from the index alone; `ix_cases_authority_closed` (authority, closed_at) the
on-time share; `ix_tasks_authority_state` (authority, state, assignee, due_date) the load by clerk.

Definitions:
- a case is *overdue* when it is open and its due date (the last day of its legal term) is before
  today; a suspended case is not (its term stops running). The scheduler's `overdue` flag lags
  behind by up to one sweep, so the figures compare the date instead.
- a case *ended on time* when it reached its decision (status completed, or closed after it, with
  an outcome) on or before its due date, counting the day of `closed_at` in the authority's time
  (`utc_offset`); withdrawn and not accepted cases have no decision and are not counted.
"""
from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from engine.accounts import STAFF
from engine.definition.build import number_key
from engine.read.queries import capped_count
from engine.statuses import ACTIVE, CaseStatus, TaskStatus
from engine.store.tables import cases, procedure_versions, tasks, users

MAX_ROWS = 200  # a page of overdue cases or of open tasks
MAX_MONTHS = 36
MAX_STAFF = 500  # people an authority's supervisor picks from
DECIDED = (CaseStatus.COMPLETED.value, CaseStatus.CLOSED.value)
ACTIVE_STATUSES = tuple(sorted(s.value for s in ACTIVE))


def _bounded(limit: int, most: int) -> int:
    return max(1, min(int(limit), most))


def cases_by_status(conn: Connection | Engine, authority: str) -> dict[str, int]:
    """status -> number of cases of `authority`, every status present (0 when none)."""
    with _conn(conn) as c:
        rows = c.execute(select(cases.c.status, func.count()).where(cases.c.authority == authority)
                         .group_by(cases.c.status)).all()
    counts = dict.fromkeys((s.value for s in CaseStatus), 0)
    counts.update({status: n for status, n in rows})
    return counts


def overdue_cases(conn: Connection | Engine, authority: str, today: date, *,
                  limit: int = 50) -> dict[str, Any]:
    """Open cases past their due date, the longest overdue first (a page of `limit`), with their
    open tasks, and how many there are (counted up to `queries.COUNT_CAP`)."""
    limit = _bounded(limit, MAX_ROWS)
    late = and_(cases.c.authority == authority, cases.c.status == CaseStatus.OPEN.value,
                cases.c.due_date < today)
    with _conn(conn) as c:
        total = capped_count(c, cases, (late,))
        rows = c.execute(
            select(cases.c.id, cases.c.number, procedure_versions.c.name, cases.c.applicant,
                   cases.c.start_date, cases.c.due_date)
            .join_from(cases, procedure_versions, procedure_versions.c.version == cases.c.version)
            .where(late).order_by(cases.c.due_date, cases.c.id).limit(limit)).all()
        ids = [r.id for r in rows]
        open_tasks = c.execute(
            select(tasks.c.id, tasks.c.case_id, tasks.c.step, tasks.c.title, tasks.c.acts_as,
                   tasks.c.assignee, tasks.c.due_date)
            .where(tasks.c.case_id.in_(ids), tasks.c.state == TaskStatus.OPEN.value)
            .order_by(tasks.c.created_at, tasks.c.id)).all() if ids else []
    by_case: dict[str, list[dict[str, Any]]] = {}
    for t in open_tasks:
        by_case.setdefault(t.case_id, []).append(dict(t._mapping))
    items = [{"id": r.id, "number": r.number, "procedure": r.name, "applicant": r.applicant,
              "start_date": r.start_date, "due_date": r.due_date,
              "days_late": (today - r.due_date).days, "tasks": by_case.get(r.id, [])}
             for r in rows]
    return {"items": items, **total, "limit": limit}


def load_by_procedure(conn: Connection | Engine, authority: str, today: date) -> list[dict[str, Any]]:
    """Per procedure number: the authority's active cases (open and suspended) and how many of
    the open ones are overdue; the busiest first. (Names come from the catalog: the caller has it.)"""
    late = case((and_(cases.c.status == CaseStatus.OPEN.value, cases.c.due_date < today), 1),
                else_=0)
    with _conn(conn) as c:
        rows = c.execute(
            select(cases.c.number, func.count().label("active"), func.sum(late).label("overdue"))
            .where(cases.c.authority == authority, cases.c.status.in_(ACTIVE_STATUSES))
            .group_by(cases.c.number)).all()
    items = [{"number": r.number, "active": r.active, "overdue": int(r.overdue or 0)} for r in rows]
    return sorted(items, key=lambda i: (-i["active"], number_key(i["number"])))


def load_by_clerk(conn: Connection | Engine, authority: str, today: date) -> list[dict[str, Any]]:
    """Per assignee: the open tasks of the authority they hold and how many are past their due
    date; every enabled clerk and supervisor appears (0 when they hold none), and the tasks nobody
    claimed are one row with `assignee` None, last."""
    late = case((tasks.c.due_date < today, 1), else_=0)
    with _conn(conn) as c:
        rows = c.execute(
            select(tasks.c.assignee, func.count().label("open"), func.sum(late).label("overdue"))
            .where(tasks.c.authority == authority, tasks.c.state == TaskStatus.OPEN.value)
            .group_by(tasks.c.assignee)).all()
        staff = _staff(c, authority)
    held = {r.assignee: {"open": r.open, "overdue": int(r.overdue or 0)} for r in rows}
    items = [{"assignee": s["name"], "role": s["role"],
              **held.pop(s["name"], {"open": 0, "overdue": 0})} for s in staff]
    unassigned = held.pop(None, None)
    # Tasks held by someone no longer on the staff list (disabled, moved): still counted.
    items += [{"assignee": name, "role": None, **v} for name, v in sorted(held.items())]
    items.sort(key=lambda i: (-i["open"], i["assignee"]))
    if unassigned is not None:
        items.append({"assignee": None, "role": None, **unassigned})
    return items


def on_time_share(conn: Connection | Engine, authority: str, today: date, *, months: int = 12,
                  utc_offset: timedelta = timedelta(0)) -> list[dict[str, Any]]:
    """Per calendar month, the last `months` up to `today`'s: cases decided and how many of them
    on time (see the module's docstring), and the share (None in a month without decisions)."""
    months = _bounded(months, MAX_MONTHS)
    first = _month_start(today, months - 1)
    since = datetime.combine(first, datetime.min.time()) - utc_offset  # naive UTC, as stored
    with _conn(conn) as c:
        dialect = c.dialect.name
        day = _local_day(cases.c.closed_at, utc_offset, dialect)
        month = _month_of(day, dialect).label("month")
        on_time = case((day <= cases.c.due_date, 1), else_=0)
        rows = c.execute(
            select(month, func.count().label("decided"), func.sum(on_time).label("on_time"))
            .where(cases.c.authority == authority, cases.c.closed_at >= since,
                   cases.c.status.in_(DECIDED), cases.c.outcome.is_not(None))
            .group_by(month)).all()
    found = {r.month: (r.decided, int(r.on_time or 0)) for r in rows}
    out = []
    for i in range(months):
        start = _month_start(today, months - 1 - i)
        key = start.strftime("%Y-%m")
        decided, ok = found.get(key, (0, 0))
        out.append({"month": key, "start": start, "decided": decided, "on_time": ok,
                    "share": ok / decided if decided else None})
    return out


def open_tasks(conn: Connection | Engine, authority: str, *, limit: int = 50,
               offset: int = 0) -> dict[str, Any]:
    """A page of the authority's open tasks, earliest due first, with the case's number and
    applicant: what a supervisor reassigns; how many there are counted up to `queries.COUNT_CAP`."""
    limit = _bounded(limit, MAX_ROWS)
    where = (tasks.c.authority == authority, tasks.c.state == TaskStatus.OPEN.value)
    with _conn(conn) as c:
        total = capped_count(c, tasks, where)
        rows = c.execute(
            select(tasks.c.id, tasks.c.case_id, tasks.c.step, tasks.c.title, tasks.c.acts_as,
                   tasks.c.assignee, tasks.c.due_date, cases.c.number, cases.c.applicant)
            .join_from(tasks, cases, cases.c.id == tasks.c.case_id)
            .where(*where).order_by(tasks.c.due_date, tasks.c.created_at, tasks.c.id)
            .limit(limit).offset(max(0, int(offset)))).all()
    return {"items": [dict(r._mapping) for r in rows], **total, "limit": limit,
            "offset": offset}


def assignable_staff(conn: Connection | Engine, authority: str) -> list[dict[str, str]]:
    """The enabled clerks and supervisors of `authority`, by name: whom a task may be given to."""
    with _conn(conn) as c:
        return _staff(c, authority)


# ------------------------------------------------------------------------------------ internals

def _staff(conn: Connection, authority: str) -> list[dict[str, str]]:
    rows = conn.execute(select(users.c.name, users.c.role).where(
        users.c.org == authority, users.c.role.in_(STAFF), users.c.disabled_at.is_(None))
        .order_by(users.c.name).limit(MAX_STAFF)).all()
    return [{"name": r.name, "role": r.role} for r in rows]


def _local_day(column, offset: timedelta, dialect: str) -> ColumnElement:
    """The day of a stored UTC time in the authority's time zone (offset in whole minutes)."""
    minutes = int(offset.total_seconds() // 60)
    if dialect == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return cast(column + literal(timedelta(minutes=minutes)), Date)


def _month_of(day: ColumnElement, dialect: str) -> ColumnElement:
    """'YYYY-MM' of a day."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", day)
    return func.to_char(day, "YYYY-MM")


def _month_start(today: date, back: int) -> date:
    """The first day of the month `back` months before `today`'s."""
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _conn(conn_or_db: Connection | Engine):
    """A context manager yielding a Connection, whether given an Engine or a Connection."""
    return nullcontext(conn_or_db) if isinstance(conn_or_db, Connection) else conn_or_db.connect()

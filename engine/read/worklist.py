"""The clerk's desk: a page of work-list rows with filters, search, sort, and the days left.

`desk_page` reads the `tasks` side table joined to each task's case (number of the procedure,
applicant, status) and its procedure version (the name as the definition has it); nothing here
loads a workflow.

Who sees what (the same rules as `GET /api/tasks`, api.access): `Scope` says it. A clerk sees the
clerk tasks of their organisation that nobody claimed plus their own; a supervisor every task of
their organisation; an auditor, who reads every case, every task of every organisation.

How it scales: every query starts from an index range of `tasks` — `ix_tasks_worklist`
(authority, acts_as, state, due_date) for staff, so the default page (open, earliest due first)
is an index range read in order and cut at the page size. A search by case number is a range on
the case id (a prefix of its primary key). A search by part of the applicant's name cannot use
an index (a substring); it is evaluated on the rows of that range only — the open tasks of one
authority, never every case — and the text is at most `MAX_SEARCH` characters. SQLite folds the
case of ASCII letters only, so the name is matched as typed, in lower case, capitalised and in
upper case ("иван" finds "Иванов Иван"). Pages are at most `MAX_LIMIT` rows. Measured on SQLite
with 20,000 open tasks of one authority (medians, a noisy 2-core machine): the default page
~14 ms (the count ~8 ms of it), a search by part of the name ~55 ms, by case number ~20 ms.
The count now stops at `queries.COUNT_CAP` (1,000: "более 1000"), and a desk of both kinds of
performer (a supervisor's) reads `ix_tasks_open_due` in its order: at 1,000,000 cases with
10,000 open tasks a page costs PostgreSQL ~1 ms to execute and SQLite (200,000 cases) 3–7 ms
of CPU (benchmarks/bench_volume.py).

Working days left come from the calendar of engine.terms (`WorkCalendar`), never from the page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

from engine.read.queries import TASK_COLUMNS, _conn, _task, capped_count
from engine.store.tables import cases, procedure_versions, tasks, users
from engine.terms import WorkCalendar

MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_SEARCH = 64
SOON = 2  # working days: a task due within them is flagged (amber on the page)
STATES = ("open", "done", "cancelled")
SORTS = ("due", "-due")
UNASSIGNED, MINE = "none", "me"


@dataclass(frozen=True)
class Scope:
    """Whose tasks a user's desk may show: the organisation (None: every one, for auditors), the
    kinds of performer, and the clerk whose queue it is (unclaimed tasks plus their own)."""

    authority: str | None
    acts_as: tuple[str, ...]
    queue_of: str | None = None

    @classmethod
    def of(cls, role: str, name: str, org: str) -> Scope:
        if role == "clerk":
            return cls(org, ("clerk",), queue_of=name)
        if role == "supervisor":
            return cls(org, ("clerk", "supervisor"))
        if role == "auditor":
            return cls(None, ("clerk", "supervisor"))
        raise ValueError(f"role {role!r} has no desk")


@dataclass(frozen=True)
class DeskFilter:
    """What the desk's URL asks for; every value already checked (see api.pages.desk)."""

    procedure: str | None = None
    step: str | None = None
    state: str = "open"
    due_from: date | None = None
    due_to: date | None = None
    assignee: str | None = None  # a user name, UNASSIGNED or MINE
    overdue: bool | None = None
    case: str | None = None  # the case number (its id) or the start of it
    applicant: str | None = None  # a part of the applicant's name
    sort: str = "due"
    limit: int = 50
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def days_left(calendar: WorkCalendar, today: date, due: date | None) -> dict[str, Any]:
    """Working days from `today` to `due` and how urgent that is: `overdue` (due before today),
    `soon` (due today or within SOON working days), `days` (working days left, or working days
    late when overdue)."""
    if due is None:
        return {"days": None, "overdue": False, "soon": False}
    if due < today:
        return {"days": calendar.working_days_between(due, today), "overdue": True, "soon": False}
    left = calendar.working_days_between(today, due)
    return {"days": left, "overdue": False, "soon": left <= SOON}


def _name_variants(text: str) -> list[str]:
    """The LIKE patterns for a part of a name: as typed, lower, capitalised, upper (SQLite folds
    ASCII only), with LIKE's wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    forms = dict.fromkeys((escaped, escaped.lower(), escaped.capitalize(), escaped.upper()))
    return [f"%{form}%" for form in forms]


def _where(scope: Scope, flt: DeskFilter, user: str, today: date) -> list[Any]:
    where: list[Any] = []
    if scope.authority is not None:
        where.append(tasks.c.authority == scope.authority)
    where.append(tasks.c.acts_as.in_(scope.acts_as))
    where.append(tasks.c.state == flt.state)
    if scope.queue_of is not None and flt.state == "open":
        where.append(tasks.c.assignee.is_(None) | (tasks.c.assignee == scope.queue_of))
    if flt.procedure is not None:
        where.append(cases.c.number == flt.procedure)
    if flt.step is not None:
        where.append(tasks.c.step == flt.step)
    if flt.due_from is not None:
        where.append(tasks.c.due_date >= flt.due_from)
    if flt.due_to is not None:
        where.append(tasks.c.due_date <= flt.due_to)
    if flt.assignee == UNASSIGNED:
        where.append(tasks.c.assignee.is_(None))
    elif flt.assignee == MINE:
        where.append(tasks.c.assignee == user)
    elif flt.assignee is not None:
        where.append(tasks.c.assignee == flt.assignee)
    if flt.overdue is not None:
        late = tasks.c.due_date < today
        where.append(late if flt.overdue else or_(~late, tasks.c.due_date.is_(None)))
    if flt.case is not None:
        prefix = flt.case.lower()
        where.append(and_(tasks.c.case_id >= prefix, tasks.c.case_id < prefix + "\uffff"))
    if flt.applicant is not None:
        where.append(or_(*(cases.c.applicant.like(p, escape="\\")
                           for p in _name_variants(flt.applicant))))
    return where


def desk_page(db: Engine, scope: Scope, flt: DeskFilter, *, user: str, today: date,
              calendar: WorkCalendar) -> dict[str, Any]:
    """A page of the desk's rows, earliest due first unless `flt.sort` says otherwise, and how
    many match (counted up to `queries.COUNT_CAP`: `total`, `total_capped`)."""
    where = _where(scope, flt, user, today)
    joined = (tasks.join(cases, cases.c.id == tasks.c.case_id)
              .join(procedure_versions, procedure_versions.c.version == cases.c.version))
    due = tasks.c.due_date.desc() if flt.sort == "-due" else tasks.c.due_date.asc()
    limit = max(1, min(flt.limit, MAX_LIMIT))
    offset = max(0, min(flt.offset, MAX_OFFSET))
    # the count needs the case row only when a filter reads it (most pages count tasks alone)
    counted = (tasks.join(cases, cases.c.id == tasks.c.case_id)
               if flt.procedure is not None or flt.applicant is not None else tasks)
    with _conn(db) as conn:
        total = capped_count(conn, counted, where)
        rows = conn.execute(
            select(*TASK_COLUMNS, cases.c.number, cases.c.applicant,
                   cases.c.status.label("case_status"), procedure_versions.c.name,
                   cases.c.reg_number, cases.c.type.label("case_type"))
            .select_from(joined).where(*where)
            .order_by(due, tasks.c.created_at, tasks.c.id)
            .limit(limit).offset(offset)).all()
    items = [{**_task(r), "number": r.number, "procedure": r.name, "applicant": r.applicant,
              "case_status": r.case_status, "reg_number": r.reg_number, "case_type": r.case_type,
              **days_left(calendar, today, r.due_date)}
             for r in rows]
    return {"items": items, **total, "limit": limit, "offset": offset}


def staff_of(db: Engine, org: str) -> list[str]:
    """The names of the clerks and supervisors of `org` (the desk's assignee filter)."""
    with _conn(db) as conn:
        return list(conn.execute(
            select(users.c.name).where(users.c.org == org,
                                       users.c.role.in_(("clerk", "supervisor")))
            .order_by(users.c.name).limit(500)).scalars())

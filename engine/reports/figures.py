"""The figures of one authority's report for a period: appeals and administrative procedures.

Every figure is aggregated by the database over the cases the authority registered in the period
(`start_date` from `from` to `to`, both included; an appeal forwarded to it counts from the day it
arrived): one grouped query per kind of case (appeals, procedures) over the covering index
`ix_cases_report` (type, authority, the columns grouped by, then the dates compared), so the
database reads the index alone, in the order of the groups, and answers a few hundred groups at
most (channels × kinds × topics × outcomes × grounds × statuses, all bounded by the
definitions); Python only adds the groups up. The average rating is one query over `ratings`
(the grades given in the period).

Definitions (docs/reports.md):
- *answered*: ended with an outcome on the merits (status completed or archived, outcome neither
  `left_without_consideration` nor `withdrawn`); for procedures *decided*: approved or refused.
- *on time*: answered (decided) on or before the due date, the day of `closed_at` taken in the
  authority's time zone.
- *overdue*: still open (not suspended) with its due date before today.
- *satisfied*: answered with the outcome `satisfied`; its share is of the answered.
- *repeated*: the appeals flagged as repeated (Law 300-З). Counted as 0 until the repeated
  appeals' flag is stored (issue 15, REPEATS); the report says so in `repeated_counted`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from engine.clock import SystemClock
from engine.ratings import register
from engine.ratings.register import Period, period
from engine.statuses import CaseStatus
from engine.store.tables import REPORT_INDEX, cases

LEFT, WITHDRAWN, SATISFIED = "left_without_consideration", "withdrawn", "satisfied"
REFUSED = "refused"
DECIDED = ("approved", REFUSED)
ENDED_WITH_OUTCOME = (CaseStatus.COMPLETED.value, CaseStatus.CLOSED.value)
# What the figures group by, in the order of the covering index (engine.store.tables).
GROUPS = REPORT_INDEX[2:9]
REPEATED_COUNTED = False  # no stored flag yet: see the module's docstring


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose report, for which days, seen from which day, in which time zone."""

    authority: str
    within: Period
    today: date
    utc_offset: timedelta

    @classmethod
    def of(cls, authority: str, first: date | None, last: date | None,
           clock: SystemClock) -> Scope:
        """From `first` (default: 1 January of `last`'s year) to `last` (default: today) on
        `clock`, in its time zone."""
        today = clock.today()
        last = last or today
        within = period(first or date(last.year, 1, 1), last, clock.zone)
        offset = clock.now().astimezone(clock.zone).utcoffset() or timedelta(0)
        return cls(authority, within, today, offset)


def report(conn: Connection, scope: Scope, name: str) -> dict[str, Any]:
    """The whole report of the scope's authority (`name`: its official name)."""
    return {"authority": scope.authority, "name": name, "from": scope.within.first,
            "to": scope.within.last, "today": scope.today, "appeals": appeals(conn, scope),
            "procedures": procedures(conn, scope)}


def appeals(conn: Connection, scope: Scope) -> dict[str, Any]:
    """The appeals figures (see the module's docstring)."""
    received, by_channel, by_kind, by_topic, by_ground = 0, Counter(), Counter(), Counter(), Counter()
    answered = on_time = overdue = satisfied = left = withdrawn = 0
    for g in _groups(conn, scope, "appeal"):
        received += g.n
        by_channel[g.channel] += g.n
        by_kind[g.kind] += g.n
        by_topic[g.topic] += g.n
        overdue += g.overdue if g.status == CaseStatus.OPEN.value else 0
        if g.outcome == LEFT:
            left += g.n
            by_ground[g.ground] += g.n
        elif g.outcome == WITHDRAWN:
            withdrawn += g.n
        elif g.outcome is not None and g.status in ENDED_WITH_OUTCOME:
            answered += g.n
            on_time += g.on_time
            satisfied += g.n if g.outcome == SATISFIED else 0
    return {"received": received, "by_channel": _items(by_channel, "channel"),
            "by_kind": _items(by_kind, "kind"), "by_topic": _items(by_topic, "topic"),
            "answered": answered, "answered_on_time": on_time,
            "on_time_share": _share(on_time, answered), "overdue": overdue,
            "repeated": 0, "repeated_share": _share(0, received) if REPEATED_COUNTED else None,
            "repeated_counted": REPEATED_COUNTED,
            "satisfied": satisfied, "satisfied_share": _share(satisfied, answered),
            "left_without_consideration": left, "left_by_ground": _items(by_ground, "ground"),
            "withdrawn": withdrawn, **_rating(conn, scope, "appeal")}


def procedures(conn: Connection, scope: Scope) -> dict[str, Any]:
    """The administrative procedures' figures: received by channel and by procedure, decided on
    time, overdue, refusals by ground, not accepted, withdrawn, the average rating."""
    received, by_channel, by_number, by_ground = 0, Counter(), Counter(), Counter()
    decided = on_time = overdue = refused = not_accepted = withdrawn = 0
    for g in _groups(conn, scope, "procedure"):
        received += g.n
        by_channel[g.channel] += g.n
        by_number[g.number] += g.n
        overdue += g.overdue if g.status == CaseStatus.OPEN.value else 0
        if g.status == CaseStatus.NOT_ACCEPTED.value:
            not_accepted += g.n
        elif g.status == CaseStatus.WITHDRAWN.value:
            withdrawn += g.n
        elif g.outcome in DECIDED and g.status in ENDED_WITH_OUTCOME:
            decided += g.n
            on_time += g.on_time
            if g.outcome == REFUSED:
                refused += g.n
                by_ground[g.ground] += g.n
    return {"received": received, "by_channel": _items(by_channel, "channel"),
            "by_procedure": _items(by_number, "number"), "decided": decided,
            "decided_on_time": on_time, "on_time_share": _share(on_time, decided),
            "overdue": overdue, "refused": refused, "refusals_by_ground": _items(by_ground, "ground"),
            "not_accepted": not_accepted, "withdrawn": withdrawn,
            **_rating(conn, scope, "procedure")}


# ------------------------------------------------------------------------------------ internals

def _groups(conn: Connection, scope: Scope, type_: str) -> list[Any]:
    """One row per distinct (channel, kind, topic, number, outcome, ground, status) among the
    scope's cases of `type_`: how many (`n`), how many of them ended on or before their due date
    (`on_time`, counted for every ended case: the caller keeps it for the answered ones) and how
    many have their due date before today (`overdue`: the caller keeps it for the open ones).

    The groups follow the order of `ix_cases_report`, so the database walks the index and never
    sorts. On SQLite the period is tested on the index entries (`+start_date` keeps the planner
    from seeking by it, which would give up that order and sort every row: measured 3x slower
    with 200,000 appeals); PostgreSQL seeks and hashes the groups."""
    dialect = conn.dialect.name
    start = cases.c.start_date
    if dialect == "sqlite":
        start = literal_column("+" + cases.c.start_date.name, Date)
    ended_by_due = _ended_by(cases.c.closed_at, cases.c.due_date, scope.utc_offset, dialect)
    late = cases.c.due_date < scope.today  # kept by the caller for the open groups only
    keys = [cases.c[k] for k in GROUPS]
    return conn.execute(
        select(*keys, func.count().label("n"), _count_true(ended_by_due, dialect).label("on_time"),
               _count_true(late, dialect).label("overdue"))
        .where(cases.c.type == type_, cases.c.authority == scope.authority,
               start >= scope.within.first, start <= scope.within.last)
        .group_by(*keys)).all()


def _count_true(condition: ColumnElement, dialect: str) -> ColumnElement:
    """How many rows meet `condition` (SQLite sums its 0/1/NULL directly: no CASE per row)."""
    if dialect == "sqlite":
        return func.coalesce(func.sum(condition, type_=Integer), 0, type_=Integer)
    return func.sum(case((condition, 1), else_=0))


def _rating(conn: Connection, scope: Scope, type_: str) -> dict[str, Any]:
    figures = register.by_authority(conn, [scope.authority], scope.within, type_=type_)
    mine = figures[scope.authority]
    return {"ratings": mine["ratings"], "average_rating": mine["average"]}


def _items(counter: Counter, key: str) -> list[dict[str, Any]]:
    """[{key: value, "count": n}], the largest first (ties by value)."""
    return [{key: value, "count": n}
            for value, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ended_by(closed_at: Any, due_date: Any, offset: timedelta, dialect: str) -> ColumnElement:
    """Whether a stored UTC `closed_at` falls on or before the local day `due_date` (offset in
    whole minutes east of UTC). On SQLite, for an offset from 0 to 24 hours, the bound is the
    text of the UTC moment the local day after `due_date` begins (Minsk: `due_date 21:00:00`),
    compared with the stored text: a comparison per row instead of a date function per row."""
    minutes = int(offset.total_seconds() // 60)
    if dialect == "sqlite":
        if 0 <= minutes < 24 * 60:
            left = 24 * 60 - minutes
            bound = type_coerce(due_date, String).concat(f" {left // 60:02d}:{left % 60:02d}:00")
            return closed_at < bound
        return func.date(closed_at, f"{minutes:+d} minutes") <= due_date
    return cast(closed_at + literal(timedelta(minutes=minutes)), Date) <= due_date

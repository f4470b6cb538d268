"""What the ratings add up to: averages per authority and per procedure over a period, and the
register a superior body keeps of its subordinate authorities, each with its position.

Every figure is one grouped SQL query over `ratings` (by `ix_ratings_authority_created` or
`ix_ratings_number_created`); no rating is loaded into Python to be counted. A period is a range of
local days, turned into UTC bounds once (`period_bounds`), as grades are stored in UTC.

An authority's *average* is the mean of its four criterion averages (every grade weighs the
same). Positions rank the authorities of a register that have grades, highest average first;
equal averages share a position (1, 2, 2, 4); an authority without grades in the period has no
position and comes last.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, cast, func, select
from sqlalchemy.engine import Connection

from engine.authorities.catalog import AuthorityCatalog
from engine.errors import InvalidInput
from engine.ratings.criteria import CRITERIA, MAX_COMMENT
from engine.store.tables import ratings

MAX_DAYS = 3 * 366 + 1  # the longest period one query covers
MAX_COMMENTS = 100


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first` to `last`, both included, and their bounds in UTC."""

    first: date
    last: date
    since: datetime  # first's midnight, local, in UTC
    until: datetime  # the midnight after last, local, in UTC (excluded)


def period(first: date, last: date, zone: ZoneInfo) -> Period:
    """The period from `first` to `last` in `zone`; InvalidInput when it is reversed or longer
    than MAX_DAYS."""
    if last < first:
        raise InvalidInput(f"the period ends ({last}) before it starts ({first})", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a period covers at most {MAX_DAYS} days", field="to")
    since = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return Period(first, last, since, until)


def _aggregates() -> list[Any]:
    return [func.count().label("ratings"),
            *(func.avg(cast(ratings.c[c.id], Float)).label(c.id) for c in CRITERIA)]


def _figures(row: Any) -> dict[str, Any]:
    count = int(row.ratings) if row is not None else 0
    averages = {c.id: (round(float(getattr(row, c.id)), 2) if count else None) for c in CRITERIA}
    overall = (round(sum(float(getattr(row, c.id)) for c in CRITERIA) / len(CRITERIA), 2)
               if count else None)
    return {"ratings": count, **averages, "average": overall}


def by_authority(conn: Connection, authority_ids: Sequence[str], within: Period,
                 *, type_: str | None = None) -> dict[str, dict[str, Any]]:
    """authority -> its figures in the period (every one of `authority_ids`, zeros when none);
    `type_` keeps the grades of one kind of case (procedure, appeal, remarks)."""
    where = [ratings.c.authority.in_(list(authority_ids)), ratings.c.created_at >= within.since,
             ratings.c.created_at < within.until]
    if type_ is not None:
        where.append(ratings.c.type == type_)
    rows = conn.execute(select(ratings.c.authority, *_aggregates()).where(*where)
                        .group_by(ratings.c.authority)).all() if authority_ids else []
    found = {r.authority: r for r in rows}
    return {a: _figures(found.get(a)) for a in authority_ids}


def by_procedure(conn: Connection, authority_id: str, within: Period) -> list[dict[str, Any]]:
    """Per procedure (or appeal definition) number: the authority's figures in the period, the
    most graded first."""
    rows = conn.execute(select(ratings.c.number, *_aggregates())
                        .where(ratings.c.authority == authority_id,
                               ratings.c.created_at >= within.since,
                               ratings.c.created_at < within.until)
                        .group_by(ratings.c.number)).all()
    items = [{"number": r.number, **_figures(r)} for r in rows]
    return sorted(items, key=lambda i: (-i["ratings"], i["number"]))


def comments(conn: Connection, authority_id: str, within: Period, *,
             limit: int = 20) -> list[dict[str, Any]]:
    """The newest comments the authority's grades came with in the period (a page of `limit`)."""
    limit = max(1, min(int(limit), MAX_COMMENTS))
    rows = conn.execute(select(ratings.c.case_id, ratings.c.number, ratings.c.created_at,
                               ratings.c.comment, *(ratings.c[c.id] for c in CRITERIA))
                        .where(ratings.c.authority == authority_id,
                               ratings.c.created_at >= within.since,
                               ratings.c.created_at < within.until,
                               ratings.c.comment.is_not(None))
                        .order_by(ratings.c.created_at.desc(), ratings.c.case_id)
                        .limit(limit)).all()
    return [{**dict(r._mapping), "comment": r.comment[:MAX_COMMENT]} for r in rows]


def register(conn: Connection, catalog: AuthorityCatalog, superior_id: str,
             within: Period) -> list[dict[str, Any]]:
    """The superior body's register: every subordinate authority (all levels below it) with its
    figures in the period and its position (see the module's docstring), best first."""
    if superior_id not in catalog:
        raise InvalidInput(f"authority {superior_id!r} is not in the authorities catalog",
                           field="authority")
    members = catalog.subordinates(superior_id)
    figures = by_authority(conn, [a.id for a in members], within)
    items = [{"authority": a.id, "name": a.name, "superior": a.superior, **figures[a.id]}
             for a in members]
    return ranked(items)


def ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` (each with `average`, `ratings`, `name`) ordered and given positions."""
    graded = sorted((i for i in items if i["average"] is not None),
                    key=lambda i: (-i["average"], -i["ratings"], i["name"]))
    position, previous = 0, None
    for index, item in enumerate(graded, start=1):
        if item["average"] != previous:
            position, previous = index, item["average"]
        item["position"] = position
    rest = sorted((i for i in items if i["average"] is None), key=lambda i: i["name"])
    for item in rest:
        item["position"] = None
    return graded + rest

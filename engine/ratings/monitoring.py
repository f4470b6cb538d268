"""The half-year monitoring report (resolution No. 765, §13: at least once every half-year a
superior body analyses the grades of the authorities in its register and how their positions
moved).

A half-year is H1 (1 January - 30 June) or H2 (1 July - 31 December) of a year. The report is the
register for that half-year, each authority with its position then and in the half-year before,
and the move (positive: it rose). As CSV too, with the figures a spreadsheet reads (a dot as the
decimal separator, empty where there is no figure).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from engine.authorities.catalog import AuthorityCatalog
from engine.errors import InvalidInput
from engine.ratings.criteria import CRITERIA
from engine.ratings.register import Period, period, register

FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True, slots=True)
class HalfYear:
    year: int
    half: int  # 1 or 2

    def __post_init__(self) -> None:
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise InvalidInput(f"year must lie between {FIRST_YEAR} and {LAST_YEAR}", field="year")
        if self.half not in (1, 2):
            raise InvalidInput("half must be 1 (January-June) or 2 (July-December)", field="half")

    @property
    def first(self) -> date:
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def last(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    def before(self) -> HalfYear:
        return HalfYear(self.year, 1) if self.half == 2 else HalfYear(self.year - 1, 2)

    def period(self, zone: ZoneInfo) -> Period:
        return period(self.first, self.last, zone)

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}"


def report(conn: Connection, catalog: AuthorityCatalog, superior_id: str, half: HalfYear,
           zone: ZoneInfo) -> dict[str, Any]:
    """The monitoring report of `superior_id`'s register for `half` (see the module)."""
    now = register(conn, catalog, superior_id, half.period(zone))
    if half.year > FIRST_YEAR or half.half == 2:
        earlier = {i["authority"]: i["position"]
                   for i in register(conn, catalog, superior_id, half.before().period(zone))}
    else:
        earlier = {}
    for item in now:
        before = earlier.get(item["authority"])
        item["previous_position"] = before
        item["move"] = (before - item["position"]
                        if before is not None and item["position"] is not None else None)
    authority = catalog.get(superior_id)
    return {"authority": superior_id, "name": authority.name if authority else superior_id,
            "period": str(half), "from": half.first, "to": half.last, "items": now}


CSV_HEADER = ("position", "authority", "name", "ratings", *(c.id for c in CRITERIA), "average",
              "previous_position", "move")


def as_csv(monitoring: dict[str, Any]) -> str:
    """The report as CSV (a header line, then one line per authority of the register)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for item in monitoring["items"]:
        writer.writerow(["" if item.get(k) is None else item[k] for k in CSV_HEADER])
    return out.getvalue()

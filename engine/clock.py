"""Time is injected: the engine reads a Clock, so tests move time instead of sleeping.

A clock also knows the zone whose dates legal terms count in (`today`): Belarus's by default,
the `timezone` setting when the entry point passes one.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# Legal terms count in the authority's local days (Belarus: Europe/Minsk).
DEFAULT_ZONE = ZoneInfo("Europe/Minsk")


class SystemClock:
    def __init__(self, zone: ZoneInfo = DEFAULT_ZONE) -> None:
        self.zone = zone

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """The local date in `zone`: the day a legal term counts from."""
        return self.now().astimezone(self.zone).date()


class FixedClock(SystemClock):
    """A clock that stands still until told to move."""

    def __init__(self, at: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        super().__init__(zone)
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


Clock = SystemClock

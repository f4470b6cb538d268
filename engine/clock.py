"""Time is injected: the engine reads a Clock, so tests move time instead of sleeping."""
from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# Legal terms count in the authority's local days (Belarus: Europe/Minsk).
LOCAL_ZONE = ZoneInfo(os.environ.get("OKNO_TIMEZONE", "Europe/Minsk"))


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(LOCAL_ZONE).date()


class FixedClock(SystemClock):
    """A clock that stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


Clock = SystemClock

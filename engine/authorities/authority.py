"""An authority as the catalog states it: immutable, built from a validated file."""
from __future__ import annotations

from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_DAYS = WEEKDAYS[:5]
# Where an analyst's text says "other", the procedure names its body in words: no authority
# performs it by kind alone (an authority of kind `other` lists what it performs in `include`).
NO_KIND = "other"


@dataclass(frozen=True, slots=True)
class Person:
    """Who receives citizens (or stands in for them)."""

    name: str
    position: str
    room: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """Reception from `start` to `end`, as "HH:MM" texts (they sort as times do)."""

    start: str
    end: str

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"


@dataclass(frozen=True, slots=True)
class Authority:
    id: str
    name: str
    kind: str
    address: str
    phone: str
    reception: tuple[tuple[str, tuple[Interval, ...]], ...]  # (weekday, intervals), Monday first
    officer: Person
    deputy: Person
    superior: str | None = None
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    email: str | None = None
    website: str | None = None
    reception_notes: str | None = None
    notes: str | None = None
    source: str = ""

    def hours(self, weekday: str) -> tuple[Interval, ...]:
        """Reception intervals on `weekday` ('mon' … 'sun'); empty when there is none."""
        return dict(self.reception).get(weekday, ())

    def performs(self, number: str, kinds: tuple[str, ...]) -> bool:
        """Whether it performs procedure `number`, whose bodies are of `kinds`."""
        if number in self.exclude:
            return False
        return number in self.include or (self.kind != NO_KIND and self.kind in kinds)

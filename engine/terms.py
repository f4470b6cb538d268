"""Legal deadline arithmetic on the Belarusian working-day calendar.

Law No. 300-З (citizens' appeals) counts terms as follows, and Law No. 433-З does the same
until an analyst says otherwise:

* counting starts on the day after the starting event (registration, application);
* a term in calendar days ends on ``start + N``;
* a term in working days ends on the N-th working day after the start;
* a month-term ends on the same date N months later, or on that month's last day if the date
  does not exist (31 January + 1 month = 28/29 February);
* a "same day" term ends on the start date itself;
* a same-day, calendar-day or month term whose last day is a non-working day ends on the next
  working day (an application made through the portal on a Sunday is due on Monday).

The working-day calendar comes from the ``holidays`` package (country ``BY``: public holidays plus
the Council of Ministers' transfers, including worked Saturdays) corrected by an operator-edited
override file for transfers decided after the package's release. See ``docs/terms.md``.
"""
from __future__ import annotations

import calendar as _stdcal
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import holidays
import yaml

__all__ = [
    "DEFAULT_OVERRIDES_PATH",
    "ACCEPTED_FORMS",
    "CalendarError",
    "Term",
    "TermError",
    "TermUnit",
    "WorkCalendar",
    "add_months",
    "default_calendar",
    "due_date",
    "extend_due",
    "longest_term",
    "parse_term",
    "shift_by_pause",
]

# --------------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------------

DEFAULT_OVERRIDES_PATH: Final[Path] = Path(__file__).parent / "data" / "calendar_overrides.yaml"
_COUNTRY: Final[str] = "BY"


class CalendarError(ValueError):
    """The calendar cannot answer: a bad override file or a year outside the supported range."""


def _override_date(raw: Any, where: str) -> tuple[date, str]:
    """One override entry: a bare ISO date or a mapping ``{date: ..., note: ...}``."""
    note = ""
    if isinstance(raw, dict):
        unknown = set(raw) - {"date", "note"}
        if unknown:
            raise CalendarError(
                f"{where}: unknown keys {sorted(map(str, unknown))} (allowed: date, note)")
        if "date" not in raw:
            raise CalendarError(f"{where}: entry {raw!r} has no 'date'")
        note = "" if raw.get("note") is None else str(raw["note"])
        raw = raw["date"]
    if isinstance(raw, date):  # YAML turns unquoted ISO dates into date objects
        return raw, note
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip()), note
        except ValueError:
            pass
    raise CalendarError(f"{where}: {raw!r} is not an ISO date (YYYY-MM-DD)")


def _decided_years(raw: Any, path: Path) -> dict[int, str]:
    """`decided_years`: the years whose transfers this file completes, year -> the act (note)."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {year: "" for year in raw}
    if not isinstance(raw, dict):
        raise CalendarError(f"calendar override file {path}: 'decided_years' must be a mapping "
                            "of year to the act that decided its transfers")
    years: dict[int, str] = {}
    for year, note in raw.items():
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            raise CalendarError(f"calendar override file {path}: decided_years: {year!r} is not "
                                "a year (e.g. 2027)")
        years[year] = "" if note is None else str(note)
    return years


def _load_overrides(path: Path) -> tuple[dict[date, str], dict[date, str], dict[int, str]]:
    """Read the override file into (non_working, working) maps of date -> note and the decided
    years (year -> note)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarError(f"calendar override file {path}: cannot read ({exc})") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarError(f"calendar override file {path}: invalid YAML ({exc})") from exc
    except ValueError as exc:  # YAML builds dates itself: 2025-02-30 fails inside the loader
        raise CalendarError(f"calendar override file {path}: not an ISO date ({exc})") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise CalendarError(f"calendar override file {path}: expected a mapping with "
                            "'non_working' and 'working' lists")
    unknown = set(doc) - {"non_working", "working", "decided_years"}
    if unknown:
        raise CalendarError(f"calendar override file {path}: unknown keys "
                            f"{sorted(map(str, unknown))} (allowed: non_working, working, "
                            "decided_years)")
    result: list[dict[date, str]] = []
    for key in ("non_working", "working"):
        entries = doc.get(key) or []
        if not isinstance(entries, list):
            raise CalendarError(f"calendar override file {path}: '{key}' must be a list")
        seen: dict[date, str] = {}
        for i, raw in enumerate(entries):
            day, note = _override_date(raw, f"calendar override file {path}, {key}[{i}]")
            seen[day] = note
        result.append(seen)
    both = sorted(set(result[0]) & set(result[1]))
    if both:
        raise CalendarError(f"calendar override file {path}: dates listed as both non_working and "
                            f"working: {', '.join(d.isoformat() for d in both)}")
    return result[0], result[1], _decided_years(doc.get("decided_years"), path)


class WorkCalendar:
    """Belarusian working days: ``holidays`` country BY corrected by the override file.

    A day is a working day unless it is a weekend or public holiday or transferred day off; a
    Saturday the Council of Ministers made a working day is one. The override file wins over the
    package. Years outside the package's range (``supported_years``) raise ``CalendarError``
    rather than guessing: a deadline from an invented calendar is a silent legal error.

    Each year is computed once into a 366-byte table, so ``is_working_day`` is a dict lookup and
    an index — cheap enough for hot paths.
    """

    def __init__(self, overrides_path: str | os.PathLike[str] | None = None) -> None:
        if overrides_path is None:
            overrides_path = DEFAULT_OVERRIDES_PATH
        self.overrides_path: Path = Path(overrides_path)
        self._non_working, self._working, self.decided_years = _load_overrides(self.overrides_path)
        cls = holidays.country_holidays(_COUNTRY, years=[]).__class__
        self.supported_years: range = range(int(cls.start_year), int(cls.end_year) + 1)
        # The package computes holidays for any year, but it knows the Council of Ministers'
        # transfers only for the years it lists them for: up to the newest such year (or a year
        # the override file says it completes) the calendar is known; past it, provisional.
        self.transfers_known_through: int = max(_package_transfer_years(),
                                                default=self.supported_years.start - 1)
        self._years: dict[int, tuple[int, bytes]] = {}

    def __repr__(self) -> str:
        return f"WorkCalendar(overrides_path={str(self.overrides_path)!r})"

    @property
    def overrides(self) -> dict[str, dict[date, str]]:
        """The override entries in force (date -> note), for display and audit."""
        return {"non_working": dict(self._non_working), "working": dict(self._working)}

    def is_known_year(self, year: int) -> bool:
        """True if the year's working-day transfers are known (the package lists them, or the
        override file's `decided_years` names the year); otherwise a term counted through it is
        provisional."""
        return year <= self.transfers_known_through or year in self.decided_years

    def unknown_years(self, start: date, end: date) -> tuple[int, ...]:
        """The years between ``start`` and ``end`` (inclusive) whose transfers are not known."""
        low, high = min(start, end).year, max(start, end).year
        return tuple(y for y in range(low, high + 1) if not self.is_known_year(y))

    def year_days(self, year: int) -> dict[str, list[tuple[date, str]]]:
        """A year's non-working weekdays (holidays, days off moved from a Saturday) and its worked
        Saturdays and Sundays, each with its name: what `okno calendar YEAR` prints."""
        first, table = self._years.get(year) or self._year_table(year)
        pkg = holidays.country_holidays(_COUNTRY, years=[year], language="ru")
        off: list[tuple[date, str]] = []
        worked: list[tuple[date, str]] = []
        for i, ok in enumerate(table):
            day = date.fromordinal(first + i)
            weekend = day.weekday() >= 5
            if not ok and not weekend:
                off.append((day, self._non_working.get(day) or pkg.get(day) or ""))
            elif ok and weekend:
                worked.append((day, self._working.get(day) or ""))
        return {"non_working": off, "working": worked}

    def _year_table(self, year: int) -> tuple[int, bytes]:
        if year not in self.supported_years:
            raise CalendarError(
                f"year {year} is outside the supported calendar range "
                f"{self.supported_years.start}-{self.supported_years.stop - 1} "
                f"(the 'holidays' package, country {_COUNTRY})")
        # Neighbouring years are loaded too: a transfer decree may move a day across New Year.
        around = [y for y in (year - 1, year, year + 1) if y in self.supported_years]
        pkg = holidays.country_holidays(_COUNTRY, years=around, expand=False)
        first = date(year, 1, 1).toordinal()
        size = date(year, 12, 31).toordinal() - first + 1
        table = bytearray(size)
        for i in range(size):
            day = date.fromordinal(first + i)
            if day in self._non_working:
                ok = False
            elif day in self._working:
                ok = True
            else:
                ok = bool(pkg.is_working_day(day))
            table[i] = ok
        built = (first, bytes(table))
        self._years[year] = built
        return built

    def is_working_day(self, d: date) -> bool:
        """True if ``d`` is a working day in Belarus (after overrides)."""
        entry = self._years.get(d.year)
        if entry is None:
            entry = self._year_table(d.year)
        return bool(entry[1][d.toordinal() - entry[0]])

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, otherwise the first working day after it."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day strictly after ``start`` (n >= 1); ``start`` itself for n == 0."""
        if n < 0:
            raise ValueError(f"working-day count must be >= 0, got {n}")
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days in (start, end]: after ``start``, up to ``end`` inclusive."""
        return sum(self.is_working_day(start + timedelta(days=i))
                   for i in range(1, (end - start).days + 1))


def _package_transfer_years() -> list[int]:
    """The years the installed `holidays` package lists Belarusian transfers for (none if its
    layout changed: then every year is provisional until the override file decides it)."""
    try:
        from holidays.countries.belarus import BelarusStaticHolidays
    except ImportError:  # pragma: no cover - a package layout we do not know
        return []
    listed = getattr(BelarusStaticHolidays, "special_public_holidays", {})
    return [y for y in listed if isinstance(y, int)]


@lru_cache(maxsize=8)
def _calendar_for(path: str) -> WorkCalendar:
    return WorkCalendar(overrides_path=path)


def default_calendar(overrides_path: str | os.PathLike[str] | None = None) -> WorkCalendar:
    """The shared calendar for an override file (the ``calendar_overrides`` setting the entry
    point passes; default: the shipped file). Built once per path; edits to the file take effect
    after a restart."""
    return _calendar_for(str(overrides_path or DEFAULT_OVERRIDES_PATH))


# --------------------------------------------------------------------------------------------------
# Terms
# --------------------------------------------------------------------------------------------------

MAX_TERM_VALUE: Final[int] = 9999  # no legal term is longer; bounds the date arithmetic
MAX_TERM_TEXT: Final[int] = 64  # longer texts are refused before any regex runs
TermUnit = Literal["same_day", "calendar_days", "working_days", "months"]
_UNITS: Final[tuple[str, ...]] = ("same_day", "calendar_days", "working_days", "months")


class TermError(ValueError):
    """A term text or value that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Term:
    """A legal term: ``value`` units of ``unit``. ``same_day`` always has value 0."""

    unit: TermUnit
    value: int

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise TermError(
                f"unknown term unit {self.unit!r} (expected one of {', '.join(_UNITS)})")
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise TermError(f"term value must be an int, got {self.value!r}")
        if self.unit == "same_day":
            if self.value != 0:
                raise TermError(f"a same-day term has value 0, got {self.value}")
        elif self.value < 1:
            raise TermError(f"a {self.unit} term needs a value >= 1, got {self.value} "
                            "(write 'same day' for a zero term)")

    def __str__(self) -> str:
        """Canonical English form, accepted back by ``parse_term``."""
        if self.unit == "same_day":
            return "same day"
        one = self.value == 1
        if self.unit == "calendar_days":
            return f"{self.value} {'day' if one else 'days'}"
        if self.unit == "working_days":
            return f"{self.value} working {'day' if one else 'days'}"
        return f"{self.value} {'month' if one else 'months'}"

    @property
    def approx_days(self) -> float:
        """Rough length in calendar days, to compare terms of different units on one scale
        (months × 30.4375, working days × 7/5). Never use it to compute a deadline."""
        if self.unit == "months":
            return self.value * 30.4375
        if self.unit == "working_days":
            return self.value * 7 / 5
        return float(self.value)

    @property
    def sort_key(self) -> tuple[float, int, int]:
        """Order terms by approximate length; ties broken by unit, then value, so it is total."""
        return (self.approx_days, _UNITS.index(self.unit), self.value)

    def to_iso(self) -> str | None:
        """ISO 8601 duration (``P15D``, ``P1M``, ``P0D``); None for working days (ISO has none)."""
        if self.unit == "same_day":
            return "P0D"
        if self.unit == "calendar_days":
            return f"P{self.value}D"
        if self.unit == "months":
            return f"P{self.value}M"
        return None


def longest_term(*terms: Term | str) -> Term:
    """The longest of the given terms by ``approx_days`` (for "the longer of" rules)."""
    parsed = [parse_term(t) if isinstance(t, str) else t for t in terms]
    if not parsed:
        raise TermError("longest_term() needs at least one term")
    return max(parsed, key=lambda t: t.sort_key)


# What a term may say, for error messages: exactly what `parse_term` accepts (definitions, `okno due`).
ACCEPTED_FORMS: Final[str] = (
    "accepted forms: 'same day' / 'в день обращения'; 'N days' / 'N дней'; 'N calendar days' / "
    "'N календарных дней'; 'N working days' / 'N рабочих дней'; 'N weeks' / 'N недель'; "
    "'N months' / 'N месяцев'; 'N years' / 'N лет'; ISO 8601 P15D, P2W, P1M, P1Y, P0D")

_SAME_DAY_TEXTS: Final[frozenset[str]] = frozenset({
    "same day", "the same day", "same-day", "on the same day", "on the day of application",
    "в день обращения", "в тот же день", "в день подачи заявления",
})
_EN = re.compile(
    r"^(?P<n>\d+)\s+(?:(?P<kind>calendar|working|business)\s+)?"
    r"(?P<unit>days?|weeks?|months?|years?)$")
_RU = re.compile(
    r"^(?P<n>\d+)\s+(?:(?P<kind>календарн(?:ый|ых|ого|ые)|рабоч(?:ий|их|его|ие))\s+)?"
    r"(?P<unit>дн(?:ей|я)|день|недел(?:ь|я|и)|месяц(?:а|ев)?|год(?:а)?|лет)$")
_ISO = re.compile(r"^P(?:(?P<n>\d+)(?P<unit>[DWMY]))$")
_UNIT_WORDS: Final[dict[str, str]] = {
    "day": "d", "days": "d", "week": "w", "weeks": "w", "month": "m", "months": "m",
    "year": "y", "years": "y",
}


def _ru_unit(word: str) -> str:
    if word.startswith(("дн", "день")):
        return "d"
    if word.startswith("недел"):
        return "w"
    if word.startswith("месяц"):
        return "m"
    return "y"


def _build(text: str, n: int, unit: str, kind: str | None) -> Term:
    """Turn a parsed (number, unit letter, qualifier) into a Term; weeks and years are
    converted (1 week = 7 calendar days, 1 year = 12 months)."""
    if n > MAX_TERM_VALUE:
        raise TermError(f"term {text!r}: {n} is more than {MAX_TERM_VALUE} ({ACCEPTED_FORMS})")
    if kind == "working":
        if unit != "d":
            raise TermError(f"term {text!r}: only days can be working days ({ACCEPTED_FORMS})")
        return Term("same_day", 0) if n == 0 else Term("working_days", n)
    if kind == "calendar" and unit not in ("d", "w"):
        raise TermError(f"term {text!r}: only days can be calendar days ({ACCEPTED_FORMS})")
    if n == 0:
        return Term("same_day", 0)
    if unit == "d":
        return Term("calendar_days", n)
    if unit == "w":
        return Term("calendar_days", 7 * n)
    if unit == "m":
        return Term("months", n)
    return Term("months", 12 * n)


def parse_term(text: str) -> Term:
    """Parse a term as written in the procedure list or a definition file.

    Accepts English ("same day", "15 days", "15 calendar days", "5 working days", "1 month"),
    ISO 8601 single-part durations (P15D, P2W, P1M, P1Y, P0D = same day) and Russian
    ("в день обращения", "15 дней", "5 рабочих дней", "1 месяц"). Weeks become 7 calendar days,
    years 12 months, and any zero term is "same day". Raises ``TermError`` naming the text.
    """
    if isinstance(text, Term):
        return text
    if not isinstance(text, str):
        raise TermError(f"term must be a string, got {type(text).__name__} {text!r}")
    if len(text) > MAX_TERM_TEXT:
        raise TermError(f"term is longer than {MAX_TERM_TEXT} characters ({ACCEPTED_FORMS})")
    return _parse_cached(text)


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Term:
    """Parsing is pure and terms repeat (a few dozen per catalog), so cache it for hot paths."""
    norm = " ".join(text.strip().lower().replace("\u00a0", " ").split())
    if not norm:
        raise TermError(f"term is empty ({ACCEPTED_FORMS})")
    if norm in _SAME_DAY_TEXTS:
        return Term("same_day", 0)
    if m := _ISO.match(norm.upper()):
        return _build(text, int(m["n"]), m["unit"].lower(), None)
    if m := _EN.match(norm):
        kind = {"business": "working"}.get(m["kind"] or "", m["kind"])
        return _build(text, int(m["n"]), _UNIT_WORDS[m["unit"]], kind)
    if m := _RU.match(norm):
        kind = None
        if m["kind"]:
            kind = "working" if m["kind"].startswith("рабоч") else "calendar"
        return _build(text, int(m["n"]), _ru_unit(m["unit"]), kind)
    if norm.startswith("p"):
        raise TermError(f"term {text!r}: only single-part ISO 8601 durations are supported "
                        f"({ACCEPTED_FORMS})")
    raise TermError(f"cannot read term {text!r} ({ACCEPTED_FORMS})")


# --------------------------------------------------------------------------------------------------
# Due dates
# --------------------------------------------------------------------------------------------------

def add_months(start: date, months: int) -> date:
    """Same date ``months`` later, or that month's last day if the date does not exist."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    if not 1 <= year <= 9999:
        raise TermError(f"{start.isoformat()} + {months} months is outside the supported dates")
    return date(year, month, min(start.day, _stdcal.monthrange(year, month)[1]))


def due_date(start: date, term: Term | str, calendar: WorkCalendar | None = None) -> date:
    """The last day of ``term`` counted from the event on ``start`` (see the module docstring).

    ``same day`` returns ``start``; working-day terms return the N-th working day after ``start``;
    same-day, calendar-day and month terms are moved off a non-working last day.
    """
    t = parse_term(term) if isinstance(term, str) else term
    cal = calendar if calendar is not None else default_calendar()
    if t.unit == "same_day":
        return cal.next_working_day(start)
    try:
        if t.unit == "working_days":
            return cal.add_working_days(start, t.value)
        last = start + timedelta(days=t.value) if t.unit == "calendar_days" \
            else add_months(start, t.value)
    except OverflowError as exc:
        raise TermError(f"{start.isoformat()} + {t} is outside the supported dates") from exc
    return cal.next_working_day(last)


def extend_due(start: date, base_term: Term | str, extended_term: Term | str,
               calendar: WorkCalendar | None = None) -> date:
    """Due date after an extension (e.g. 15 days -> 1 month when documents are requested).

    It is ``due_date`` with the extended term; the later of the two due dates is returned so that
    an extension can never shorten the deadline.
    """
    return max(due_date(start, base_term, calendar), due_date(start, extended_term, calendar))


def shift_by_pause(due: date, paused_from: date, resumed_on: date,
                   calendar: WorkCalendar | None = None) -> date:
    """Move ``due`` later by the time the case was suspended.

    Decision (Law 433-З leaves suspension counting *unverified*): suspension days are calendar
    days, counted from the suspension date up to the day before resumption, i.e.
    ``(resumed_on - paused_from).days``; the shifted date is then moved off a non-working day.
    A pause resumed on the day it began shifts nothing.
    """
    if resumed_on < paused_from:
        raise TermError(f"pause resumed on {resumed_on.isoformat()}, before it began on "
                        f"{paused_from.isoformat()}")
    cal = calendar if calendar is not None else default_calendar()
    try:
        shifted = due + timedelta(days=(resumed_on - paused_from).days)
    except OverflowError as exc:
        raise TermError(
            f"{due.isoformat()} shifted by the pause is outside the supported dates") from exc
    return cal.next_working_day(shifted)

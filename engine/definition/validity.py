"""When an issued result stops being valid: the expiry date a definition's `validity` computes.

`duration` counts from the day the result is issued (a passport for 5 years: the same date five
years on); `until` is a date a form of the case gives plus an offset (the 14th birthday:
`birth_date` + 14 years). With both, the earlier applies ("5 years, but not beyond the 14th
birthday"); `until_event` with `until` expires on that date. Durations in validity are calendar
lengths: the last day is not moved off a non-working day, unlike a term's. Nothing else computes
an expiry: an `until_event` without `until`, `unlimited` and `lump_sum` give None.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine.definition.procedure import Validity
from engine.terms import TermError, add_months, parse_term


def after(start: date, text: str | None) -> date:
    """`start` plus the calendar length `text` ("14 years", "3 года", "P6M"); `start` without one.

    A working-day length is counted as calendar days: validity is never a working-day term."""
    if not text:
        return start
    term = parse_term(text)
    try:
        if term.unit == "months":
            return add_months(start, term.value)
        return start + timedelta(days=term.value)
    except OverflowError as exc:
        raise TermError(f"{start.isoformat()} + {text} is outside the supported dates") from exc


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def expiry(validity: Validity, issued_on: date, data: dict[str, Any]) -> date | None:
    """The last day a result issued on `issued_on` is valid, given the case's form `data`;
    None when the definition computes none or the field has no date."""
    cap = None
    if validity.until is not None:
        base = _as_date(data.get(validity.until.field))
        cap = after(base, validity.until.after) if base is not None else None
    if validity.kind == "until_event":
        return cap
    if validity.kind != "duration" or not validity.duration:
        return None
    own = after(issued_on, validity.duration)
    return own if cap is None else min(own, cap)

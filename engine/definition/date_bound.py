"""A date field's `min`/`max`: an ISO date, or a date relative to the day of the check.

The grammar is tiny and bounded: `YYYY-MM-DD`, `today`, or `today ± N unit` where N is at most
`MAX_AMOUNT` and unit is day(s), month(s) or year(s). The day of the check is the injected
clock's (`engine.runtime.forms.clean_form` takes it), never the machine's.
"""
from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, timedelta

MAX_AMOUNT = 1000
_RELATIVE = re.compile(r"today(?:\s*([+-])\s*(\d{1,4})\s*(day|days|month|months|year|years))?")


def bound_problem(text: object) -> str | None:
    """Why `text` is not a date bound (English, for the semantic checks), or None."""
    if not isinstance(text, str):
        return "a date bound must be a string: YYYY-MM-DD, 'today' or 'today - N years'"
    try:
        resolve(text, date(2000, 1, 1))
    except ValueError as exc:
        return str(exc)
    return None


def resolve(text: str, today: date) -> date:
    """The date `text` names on `today`; ValueError (English) if it is not a date bound."""
    match = _RELATIVE.fullmatch(text.strip())
    if match is None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"date bound {text!r} is neither YYYY-MM-DD nor 'today [+|-] N "
                             f"days|months|years'") from None
    sign, amount, unit = match.groups()
    if sign is None:
        return today
    n = int(amount) * (1 if sign == "+" else -1)
    if abs(n) > MAX_AMOUNT:
        raise ValueError(f"date bound {text!r}: at most {MAX_AMOUNT} {unit}")
    if unit.startswith("day"):
        return today + timedelta(days=n)
    months = today.month - 1 + (n * 12 if unit.startswith("year") else n)
    year, month = today.year + months // 12, months % 12 + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"date bound {text!r} leaves the calendar")
    return date(year, month, min(today.day, monthrange(year, month)[1]))

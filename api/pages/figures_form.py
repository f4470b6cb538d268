"""What the reports and ratings pages share: the authorities the signed-in user may read the
figures of, and the period form (authority, from, to) checked with its errors in Russian."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.accounts import User
from engine.authorities.authority import Authority
from engine.authorities.catalog import AuthorityCatalog
from engine.errors import InvalidInput
from engine.ratings.register import MAX_DAYS, Period, period

MAX_ID = 128


def readable(user: User, catalog: AuthorityCatalog) -> list[Authority]:
    """The authorities whose figures `user` reads: a supervisor their own and those below it,
    an auditor every one (api.access.may_read_figures says the same)."""
    if user.role == "auditor":
        return list(catalog)
    own = catalog.get(user.org)
    return ([own] if own is not None else []) + catalog.subordinates(user.org)


@dataclass
class PeriodForm:
    """The form as sent (kept to show it again) and what it means, or the errors."""

    authority: str
    first: str
    last: str
    within: Period | None = None
    errors: dict[str, str] = field(default_factory=dict)


def period_form(query: Any, user: User, choices: list[Authority], today: date,
                zone: Any) -> PeriodForm:
    """The authority (default: the user's own, else the first they may read), `from` (default: 1
    January) and `to` (default: today) from the query, each error next to its field."""
    ids = [a.id for a in choices]
    authority = str(query.get("authority") or (user.org if user.org in ids else
                                                 (ids[0] if ids else "")))[:MAX_ID]
    form = PeriodForm(authority, str(query.get("from") or "")[:10], str(query.get("to") or "")[:10])
    if authority not in ids:
        form.errors["authority"] = "Выберите орган из списка: показатели других органов вам недоступны."
    last = _day(form.last, "to", form.errors) or today
    first = _day(form.first, "from", form.errors) or date(last.year, 1, 1)
    form.first, form.last = form.first or first.isoformat(), form.last or last.isoformat()
    if not form.errors:
        try:
            form.within = period(first, last, zone)
        except InvalidInput:
            form.errors["to"] = (f"Период должен заканчиваться не раньше, чем начинается, и быть "
                                 f"не длиннее {MAX_DAYS} дней.")
    return form


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = "Введите дату в формате ГГГГ-ММ-ДД, например 2025-01-31."
        return None

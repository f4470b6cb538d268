"""The Russian wording of values in a diff: terms, fees, validity, channels.
"""
from __future__ import annotations

import re

from engine.definition.procedure import Fee, Procedure, Validity, ValidityUntil
from engine.terms import (
    TermError,
    parse_term,
)

CHANNEL_RU = {"in_person": "лично", "post": "по почте",
              "portal": "в электронной форме через единый портал электронных услуг"}
# Russian wording of values
# --------------------------------------------------------------------------------------------------

def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def term_ru(text: str | None) -> str:
    """A term in Russian: '15 days' -> '15 дней', '5 working days' -> '5 рабочих дней'."""
    if text is None:
        return "не указан"
    try:
        term = parse_term(text)
    except TermError:
        return text
    n = term.value
    if term.unit == "same_day":
        return "в день обращения"
    if term.unit == "working_days":
        return f"{n} {_plural(n, 'рабочий день', 'рабочих дня', 'рабочих дней')}"
    if term.unit == "months":
        return f"{n} {_plural(n, 'месяц', 'месяца', 'месяцев')}"
    if "calendar" in text or "календар" in text:
        return f"{n} {_plural(n, 'календарный день', 'календарных дня', 'календарных дней')}"
    return f"{n} {_plural(n, 'день', 'дня', 'дней')}"


def units_ru(amount: float | None) -> str:
    """Base units in Russian: 0.1 -> '0,1 БВ'; 0 or None -> 'бесплатно'."""
    if not amount:
        return "бесплатно"
    return f"{amount:g}".replace(".", ",") + " БВ"


def fee_ru(fee: Fee, proc: Procedure | None = None) -> str:
    """A fee in Russian; a table (the procedure's own fee) row by row when `proc` is given."""
    if fee.kind == "free":
        return "бесплатно"
    if fee.kind == "base_units":
        return units_ru(fee.base_units)
    if fee.kind == "table":
        if proc is None or proc.fee is not fee:
            return f"по таблице ({len(fee.cells)} строк)"
        return "по таблице: " + "; ".join(
            ", ".join(v for _, v in proc.fee_cell_terms(c)) + f" — {units_ru(c.base_units)}"
            for c in fee.cells)
    return "; ".join(f"{c.title} — {units_ru(c.base_units)}" for c in fee.categories)


def fee_value(fee: Fee) -> str:
    """A compact, stable descriptor: 'free', 'base_units:0.5', 'by_category:a=0.1,b=1'."""
    if fee.kind == "free":
        return "free"
    if fee.kind == "base_units":
        return f"base_units:{fee.base_units:g}"
    if fee.kind == "table":  # 'table:applicant,document:citizen_by/general_certificate=0.1;*/supplement+training=0'
        return f"table:{','.join(fee.axes)}:" + ";".join(
            "/".join("+".join(c.choices(a) or ("*",)) for a in fee.axes) + f"={c.base_units:g}"
            for c in fee.cells)
    return "by_category:" + ",".join(f"{c.id}={c.base_units:g}" for c in fee.categories)


def validity_ru(v: Validity) -> str:
    if v.kind == "unlimited":
        return "бессрочно"
    cap = f", но не позднее: {validity_until_ru(v.until)}" if v.until else ""
    if v.kind == "duration":
        return term_ru(v.duration) + cap
    if v.kind == "until_event":
        return f"до события: {v.event}" + (f" ({validity_until_ru(v.until)})" if v.until else "")
    return "единовременно"


def validity_until_ru(until: ValidityUntil) -> str:
    """«поле birth_date + 14 лет» (the title when the definition gives one)."""
    what = until.title or f"дата из поля {until.field}"
    return f"{what} + {term_ru(until.after)}" if until.after and not until.title else what


def validity_value(v: Validity) -> str:
    """The duration as written for 'duration', otherwise the kind ('unlimited', 'until_event', ...)."""
    return v.duration if v.kind == "duration" and v.duration else v.kind


def quoted(text: str | None) -> str:
    return f"«{text}»" if text else "—"


_QUOTES = re.compile(r"[«»\"'„“”‚‘’]")
_PUNCT_END = re.compile(r"[\s.;,:]+$")


def normalize_name(text: str) -> str:
    """Case, ё, quotes, spacing and trailing punctuation do not make two names different."""
    text = _QUOTES.sub("", text.lower().replace("ё", "е").replace("\u00a0", " "))
    return _PUNCT_END.sub("", " ".join(text.split()))


def _same_text(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return " ".join(a.split()) == " ".join(b.split())


# --------------------------------------------------------------------------------------------------

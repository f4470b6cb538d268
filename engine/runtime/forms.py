"""Checking the data a performer submits for a step against the step's fields.

Every field is checked, and every field at fault is reported at once (`InvalidForm.errors`, one
`FieldError` per field, the first fault of each), so a clerk corrects a form in one go. The
messages are Russian: the clerk reads them next to the field, and the API sends the same texts
in its problem's `errors[]` (docs/api.md, "Form errors").

A field's `pattern` runs on RE2 (`engine.definition.field_pattern`): linear in the value, whatever
the definition wrote.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from engine.definition.date_bound import resolve
from engine.definition.field_pattern import compile_pattern
from engine.definition.procedure import Field
from engine.errors import FieldError, InvalidForm, InvalidInput
from engine.text import text_problem

MAX_TEXT = 10_000
MAX_UNKNOWN_REPORTED = 10  # unknown names reported one by one; the rest are counted


class _Refused(Exception):
    """One field's value is refused; the message says why (Russian)."""


def clean_form(fields: tuple[Field, ...], data: dict[str, Any],
               today: date | None = None) -> dict[str, Any]:
    """The submitted values converted to their types; InvalidForm names every field at fault.
    `today` (the injected clock's day) resolves a date field's relative `min`/`max`
    (`engine.definition.date_bound`); without it a relative bound is not checked."""
    if not isinstance(data, dict):
        raise InvalidInput("данные формы должны быть объектом (JSON object)", field="data")
    known = {f.id: f for f in fields}
    errors: list[FieldError] = []
    unknown = sorted(str(k) for k in set(data) - set(known))
    if unknown:
        listed = ", ".join(sorted(known)) if known else "у этого шага нет полей"
        for name in unknown[:MAX_UNKNOWN_REPORTED]:
            errors.append(FieldError(f"data.{name}", name,
                                     f"такого поля нет в этом шаге (поля шага: {listed})"))
        if len(unknown) > MAX_UNKNOWN_REPORTED:
            errors.append(FieldError("data", "data", f"и ещё неизвестных полей: "
                                                     f"{len(unknown) - MAX_UNKNOWN_REPORTED}"))
    clean: dict[str, Any] = {}
    for fld in fields:
        value = data.get(fld.id)
        try:
            if value is None or value == "":
                if fld.required:
                    raise _Refused("обязательное поле: заполните его")
                continue
            clean[fld.id] = _value(fld, value, today)
        except _Refused as refused:
            errors.append(FieldError(f"data.{fld.id}", fld.title, str(refused)))
    if errors:
        raise InvalidForm(errors)
    return clean


MAX_INTEGER = 2**53  # exact in JSON everywhere (JavaScript clients included)


def check_text(value: str, where: str, title: str, *, free: bool = True) -> None:
    """Text must be storable as UTF-8 and shown as typed (`engine.text`): no NUL, no lone
    surrogates, no control or bidirectional characters (free text may hold tabs and line breaks;
    a one-line value, `free=False`, may not)."""
    problem = text_problem(value, free=free)
    if problem is not None:
        raise InvalidInput(f"{title}: {problem}", field=where)


# engine.text's reasons, in Russian: the clerk reads them next to the field.
TEXT_FAULTS = {"nul": "символ NUL недопустим",
               "surrogate": "недопустимый текст (не Unicode)",
               "bidi": "управляющий символ направления текста U+{code} недопустим",
               "control": "управляющий символ U+{code} недопустим"}


def _characters(n: int) -> str:
    """«не более N символа/символов»: the genitive after a number."""
    return "символа" if n % 10 == 1 and n % 100 != 11 else "символов"


def _value(fld: Field, value: Any, today: date | None) -> Any:
    if fld.type in ("string", "text"):
        if not isinstance(value, str):
            raise _Refused("ожидается текст")
        fault = text_problem(value, free=fld.type == "text", texts=TEXT_FAULTS)
        if fault is not None:
            raise _Refused(fault)
        limit = fld.max_length or MAX_TEXT
        if len(value) > limit:
            raise _Refused(f"не более {limit} {_characters(limit)}")
        if fld.pattern and not compile_pattern(fld.pattern).matches(value):
            raise _Refused("значение не соответствует требуемому формату")
        return value
    if fld.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Refused("ожидается число")
        if fld.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise _Refused("ожидается целое число")
            value = int(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise _Refused("ожидается конечное число")
        if abs(value) > MAX_INTEGER:
            raise _Refused(f"число не больше {MAX_INTEGER} по модулю")
        if fld.min is not None and value < fld.min:
            raise _Refused(f"значение должно быть не меньше {fld.min:g}")
        if fld.max is not None and value > fld.max:
            raise _Refused(f"значение должно быть не больше {fld.max:g}")
        return value
    if fld.type == "boolean":
        if not isinstance(value, bool):
            raise _Refused("ожидается «да» или «нет» (true или false)")
        return value
    if fld.type == "date":
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else _bad()
        except (ValueError, TypeError):
            raise _Refused("ожидается дата в формате ГГГГ-ММ-ДД (например, 2025-06-01)") from None
        low, high = _date_bound(fld.min, today), _date_bound(fld.max, today)
        if low is not None and day < low:
            raise _Refused(f"дата должна быть не раньше {low:%d.%m.%Y}")
        if high is not None and day > high:
            raise _Refused(f"дата должна быть не позже {high:%d.%m.%Y}")
        return day.isoformat()
    if fld.type == "choice":
        ids = [c.id for c in fld.choices]
        if value not in ids:
            raise _Refused(f"выберите один из вариантов ({', '.join(ids)})")
        return value
    raise _Refused(f"неподдерживаемый тип поля {fld.type}")


def _date_bound(bound: float | str | None, today: date | None) -> date | None:
    """A date field's bound on `today`; None when there is none (or it is relative and no day
    was given). The definition was checked, so the bound parses."""
    if not isinstance(bound, str) or (today is None and bound.strip().startswith("today")):
        return None
    return resolve(bound, today or date.min)


def _example_date(f: Field) -> str:
    """2025-06-01, or the nearest day to it within the field's absolute bounds (relative ones
    are taken on that day)."""
    day = date(2025, 6, 1)
    low, high = _date_bound(f.min, day), _date_bound(f.max, day)
    if low is not None and day < low:
        day = low
    if high is not None and day > high:
        day = high
    return day.isoformat()


def _bad() -> Any:
    raise ValueError


_PATTERN_SAMPLES = ("1234567", "AB1234567", "МР1234567", "1234567A001PB1", "12345", "123456",
                    "1", "12", "123", "1234", "12345678", "123456789", "1234567890", "+375291234567",
                    "375291234567", "2025-01-01", "abc", "А", "Иванов")


def example_form(fields: tuple[Field, ...]) -> dict[str, Any]:
    """A valid value for every field: for API examples, tests and load generators."""
    data: dict[str, Any] = {}
    for f in fields:
        if f.type == "choice":
            data[f.id] = f.choices[0].id
        elif f.type == "boolean":
            data[f.id] = False
        elif f.type in ("integer", "number"):
            data[f.id] = int(f.min) if f.min is not None else 1
        elif f.type == "date":
            data[f.id] = _example_date(f)
        elif f.pattern:
            pattern = compile_pattern(f.pattern)
            matching = [c for c in _PATTERN_SAMPLES if pattern.matches(c)]
            if matching:
                data[f.id] = matching[0]
        else:
            data[f.id] = "текст"[: f.max_length or 5]
    return data

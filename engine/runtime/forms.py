"""Checking the data a performer submits for a step against the step's fields.

A field's `pattern` runs on RE2 (`engine.definition.field_pattern`): linear in the value, whatever
the definition wrote.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from engine.definition.field_pattern import compile_pattern
from engine.definition.procedure import Field
from engine.errors import InvalidInput
from engine.text import text_problem

MAX_TEXT = 10_000


def clean_form(fields: tuple[Field, ...], data: dict[str, Any]) -> dict[str, Any]:
    """The submitted values converted to their types; InvalidInput names the first field at fault."""
    if not isinstance(data, dict):
        raise InvalidInput("form data must be an object", field="data")
    known = {f.id: f for f in fields}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; this step has {sorted(known) or 'no fields'}",
                           field=f"data.{unknown[0]}")
    clean: dict[str, Any] = {}
    for fld in fields:
        value = data.get(fld.id)
        if value is None or value == "":
            if fld.required:
                raise InvalidInput(f"{fld.title}: required", field=f"data.{fld.id}")
            continue
        clean[fld.id] = _value(fld, value)
    return clean


MAX_INTEGER = 2**53  # exact in JSON everywhere (JavaScript clients included)


def check_text(value: str, where: str, title: str, *, free: bool = True) -> None:
    """Text must be storable as UTF-8 and shown as typed (`engine.text`): no NUL, no lone
    surrogates, no control or bidirectional characters (free text may hold tabs and line breaks;
    a one-line value, `free=False`, may not)."""
    problem = text_problem(value, free=free)
    if problem is not None:
        raise InvalidInput(f"{title}: {problem}", field=where)


def _value(fld: Field, value: Any) -> Any:
    where = f"data.{fld.id}"
    if fld.type in ("string", "text"):
        if not isinstance(value, str):
            raise InvalidInput(f"{fld.title}: text expected", field=where)
        check_text(value, where, fld.title, free=fld.type == "text")
        limit = fld.max_length or MAX_TEXT
        if len(value) > limit:
            raise InvalidInput(f"{fld.title}: at most {limit} characters", field=where)
        if fld.pattern and not compile_pattern(fld.pattern).matches(value):
            raise InvalidInput(f"{fld.title}: does not match the required format", field=where)
        return value
    if fld.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{fld.title}: a number expected", field=where)
        if fld.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidInput(f"{fld.title}: a whole number expected", field=where)
            value = int(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"{fld.title}: a finite number expected", field=where)
        if abs(value) > MAX_INTEGER:
            raise InvalidInput(f"{fld.title}: at most {MAX_INTEGER} in size", field=where)
        if fld.min is not None and value < fld.min:
            raise InvalidInput(f"{fld.title}: at least {fld.min:g}", field=where)
        if fld.max is not None and value > fld.max:
            raise InvalidInput(f"{fld.title}: at most {fld.max:g}", field=where)
        return value
    if fld.type == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput(f"{fld.title}: true or false expected", field=where)
        return value
    if fld.type == "date":
        try:
            return date.fromisoformat(value).isoformat() if isinstance(value, str) else _bad()
        except (ValueError, TypeError):
            raise InvalidInput(f"{fld.title}: a date YYYY-MM-DD expected", field=where) from None
    if fld.type == "choice":
        ids = [c.id for c in fld.choices]
        if value not in ids:
            raise InvalidInput(f"{fld.title}: one of {ids} expected", field=where)
        return value
    raise InvalidInput(f"{fld.title}: unsupported field type {fld.type}", field=where)


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
            data[f.id] = "2025-06-01"
        elif f.pattern:
            pattern = compile_pattern(f.pattern)
            matching = [c for c in _PATTERN_SAMPLES if pattern.matches(c)]
            if matching:
                data[f.id] = matching[0]
        else:
            data[f.id] = "текст"[: f.max_length or 5]
    return data

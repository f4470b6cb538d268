"""The values a notice text's placeholders are filled from (the fixed list of
`engine.definition.procedure.NOTICE_PLACEHOLDERS`, documented in docs/authoring.md).

Dates are written the Russian way (`dd.mm.yyyy`); a value the case does not have is empty text,
so a notice never shows a raw `{placeholder}`.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.definition.procedure import NOTICE_PLACEHOLDERS, Procedure


def ru_date(day: date | None) -> str:
    return "" if day is None else day.strftime("%d.%m.%Y")


def notice_values(proc: Procedure, row: Mapping[str, Any], names: Mapping[str, str],
                  today: date, extra: Mapping[str, Any]) -> dict[str, str]:
    """Every placeholder's value for the case `row` (as it will be after the command: `extra`
    holds what the command adds, such as `ground_title` or `reply`)."""
    authority = row.get("authority") or ""
    values: dict[str, Any] = {
        "reg_number": row.get("reg_number"),
        "registered_on": ru_date(row.get("start_date")),
        "applicant": row.get("applicant"),
        "address": row.get("address"),
        "authority": authority,
        "due_date": ru_date(row.get("due_date")),
        "question": row.get("question"),
        "kind_title": proc.choice_title("kinds", row.get("kind")),
        "topic_title": proc.choice_title("topics", row.get("topic")),
        "today": ru_date(today),
    }
    values.update(extra)  # a forwarding notice names the authority that forwards: `authority`
    values.setdefault("authority_name", names.get(values["authority"], values["authority"]))
    if values.get("forwarded_to"):
        values.setdefault("forwarded_to_name", names.get(values["forwarded_to"], values["forwarded_to"]))
    return {name: "" if values.get(name) is None else str(values[name]) for name in NOTICE_PLACEHOLDERS}

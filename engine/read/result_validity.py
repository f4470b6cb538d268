"""Until when an issued result is valid, as the case JSON, the case page and the applicant's
cabinet show it: the definition's `validity` (engine.definition.validity) on the case's form data,
counted from the day the case closed with its result issued (outcome approved)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.definition.procedure import Procedure
from engine.definition.validity import expiry
from engine.terms import TermError


def valid_until(procedure: Procedure, row: Mapping[str, Any], data: Mapping[str, Any]) -> date | None:
    """The last day the case's result is valid; None until it is issued, or when the definition
    computes no date (unlimited, a free-text event, a lump sum) or the form lacks the date."""
    closed = row["closed_at"]
    if row["outcome"] != "approved" or closed is None:
        return None
    issued = closed.date() if hasattr(closed, "date") else closed
    try:
        return expiry(procedure.validity, issued, dict(data))
    except TermError:  # outside the supported dates
        return None

"""The printable documents of a case, from its procedure version and its trail: the receipt of
the application, the decision notice and the refusal.

Each exists from a moment on: the receipt once the case is registered; the decision notice once
the procedure was carried out (outcome `approved`); the refusal once the authority refused to
carry it out (outcome `refused`) or to accept the application (status `not_accepted`), naming
its legal ground. Before that, `printable` answers None. The appeal term of a decision is
counted from the day it was taken on the working-day calendar (`engine.terms.due_date`).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from engine.read.queries import case_events, case_view
from engine.statuses import CaseStatus
from engine.store.versions import Versions
from engine.terms import TermError, WorkCalendar, due_date

KINDS = ("receipt", "decision", "refusal")


def exists(view: dict[str, Any], kind: str) -> bool:
    """Whether the case has reached the point where document `kind` exists."""
    if kind == "receipt":
        return True
    if kind == "decision":
        return view["outcome"] == "approved"
    if kind == "refusal":
        return view["outcome"] == "refused" or view["status"] == CaseStatus.NOT_ACCEPTED
    return False


def printable(db: Engine, versions: Versions, case_id: str, kind: str,
              calendar: WorkCalendar) -> dict[str, Any] | None:
    """What document `kind` of the case says; None if the case or the document does not exist."""
    view = case_view(db, case_id, versions, calendar)
    if view is None or not exists(view, kind):
        return None
    procedure = versions.get(view["version"])
    trail = case_events(db, case_id)
    start = trail[0] if trail else None
    decided = _decision_event(trail, view)
    decided_on = _day(decided["at"]) if decided else _day(view["closed_at"] or view["started_at"])
    document: dict[str, Any] = {
        "kind": kind, "case": view, "procedure": procedure,
        "registered_by": start["actor"] if start else None,
        "registered_at": view["started_at"],
        "decided_by": decided["actor"] if decided else None, "decided_on": decided_on,
        "presented": [d for d in view["documents"] if d["kind"] == "presented"],
        "requested": [d for d in view["documents"] if d["kind"] == "requested"],
        "ground": None, "appeal_until": None,
    }
    if kind == "refusal":
        acceptance = view["status"] == CaseStatus.NOT_ACCEPTED
        try:
            document["ground"] = procedure.ground(view["ground"], acceptance=acceptance)
        except KeyError:  # a ground the version no longer lists: its id is all there is
            document["ground"] = None
        document["acceptance"] = acceptance
    if kind in ("decision", "refusal") and procedure.appeal is not None:
        try:
            document["appeal_until"] = due_date(decided_on, procedure.appeal.term, calendar)
        except (TermError, ValueError):  # a calendar not yet known for that year
            document["appeal_until"] = None
    return document


def _decision_event(trail: list[dict[str, Any]], view: dict[str, Any]) -> dict[str, Any] | None:
    """The event that decided the case: the completed step whose data carry the outcome, or the
    refusal to accept."""
    for event in reversed(trail):
        data = event["data"] if isinstance(event["data"], dict) else {}
        if view["status"] == CaseStatus.NOT_ACCEPTED and "ground" in data and "title" in data:
            return event
        inner = data.get("data")
        if isinstance(inner, dict) and "outcome" in inner:
            return event
    return None


def _day(at: datetime | date) -> date:
    return at.date() if isinstance(at, datetime) else at

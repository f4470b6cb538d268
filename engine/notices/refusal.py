"""What a refusal tells the applicant: the ground's text, where to appeal and until when.

`facts` is shared by the command that refuses (it renders the refusal notice from them), the
case JSON (`refusal`) and the applicant's cabinet, so all three say the same. The ground is
given by its text (title and legal basis), never by its id alone; the superior body is the
procedure's `appeal.superior_body`, else the superior of the case's authority in the authorities
catalog (`superior`, when the caller knows it); the last day to appeal is the appeal term counted
from the day of the decision on the working-day calendar.

A procedure definition declares no notices (only appeals do), so the engine words this one
(`TEXT`, notice kind `refusal`), filled like a definition's (`engine.notices.drafts`).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from engine.definition.procedure import NoticeText, Procedure
from engine.terms import TermError, WorkCalendar, due_date

NOTICE = "refusal"
TEXT = NoticeText(
    id=NOTICE, title="Отказ в осуществлении административной процедуры {reg_number}",
    text=("{applicant}, по Вашему заявлению {reg_number} от {registered_on} {authority_name} "
          "{today} отказано в осуществлении административной процедуры.\n"
          "Основание отказа: {ground_title}. Правовое основание: {legal_basis}.\n"
          "Решение может быть обжаловано в {superior_body} в течение {appeal_term} "
          "(по {appeal_until} включительно), а также в суд."))


def facts(procedure: Procedure, ground_id: str, decided_on: date,
          calendar: WorkCalendar | None = None, superior: str | None = None) -> dict[str, Any]:
    """The refusal's `ground` (id), `ground_title`, `legal_basis`, `superior_body`,
    `appeal_term` and `appeal_until` (None when not known)."""
    try:
        ground = procedure.ground(ground_id)
        title, basis = ground.title, ground.legal_basis
    except KeyError:  # a ground the version no longer lists
        title, basis = None, None
    appeal = procedure.appeal
    until = None
    if appeal is not None:
        try:
            until = due_date(decided_on, appeal.term, calendar)
        except (TermError, ValueError):  # a calendar not yet known for that year
            until = None
    return {"ground": ground_id, "ground_title": title, "legal_basis": basis,
            "superior_body": appeal.superior_body if appeal is not None else superior,
            "appeal_term": appeal.term if appeal is not None else None, "appeal_until": until}


def of_case(procedure: Procedure, row: Any, calendar: WorkCalendar | None = None,
            superior: str | None = None) -> dict[str, Any] | None:
    """`facts` of a case row refused by a decision (counted from the day it closed); None for
    any other case (approved, open, or not accepted: that refusal names an acceptance ground)."""
    if row["outcome"] != "refused" or not row["ground"]:
        return None
    closed = row["closed_at"] or row["started_at"]
    return facts(procedure, row["ground"], closed.date() if hasattr(closed, "date") else closed,
                 calendar, superior)

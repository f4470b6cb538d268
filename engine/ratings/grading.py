"""Grading a case: its applicant, once, after it ended.

A case is graded by the account it is linked to (`cases.applicant_user`); for anyone else it does
not exist (NotFound, as the API answers for a case one may not see). It must have ended (any
status but open or suspended: decided, withdrawn, not accepted, archived); it is graded once:
the case id is the table's key, so a second grade, also a concurrent one, is refused.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.ratings.criteria import CRITERIA, HIGHEST, LOWEST, MAX_COMMENT
from engine.statuses import ACTIVE
from engine.store.tables import cases, ratings
from engine.text import text_problem

ACTIVE_STATUSES = tuple(sorted(s.value for s in ACTIVE))


def checked_grades(grades: dict[str, Any]) -> dict[str, int]:
    """The four grades, each an integer 1-5; InvalidInput naming the first criterion at fault."""
    out: dict[str, int] = {}
    for criterion in CRITERIA:
        value = grades.get(criterion.id)
        if isinstance(value, bool) or not isinstance(value, int) or not LOWEST <= value <= HIGHEST:
            raise InvalidInput(f"{criterion.id} must be a whole number from {LOWEST} to {HIGHEST}",
                               field=criterion.id)
        out[criterion.id] = value
    unknown = sorted(set(grades) - set(out))
    if unknown:
        raise InvalidInput(f"unknown criterion {unknown[0]!r}; the criteria are "
                           f"{[c.id for c in CRITERIA]}", field=unknown[0])
    return out


def checked_comment(comment: str | None) -> str | None:
    """The comment as stored: stripped, None when empty; InvalidInput when too long or holding
    a character free text may not (engine.text)."""
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise InvalidInput("comment must be text", field="comment")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"comment must be at most {MAX_COMMENT} characters", field="comment")
    problem = text_problem(comment, free=True)
    if problem is not None:
        raise InvalidInput(f"comment: {problem}", field="comment")
    return comment or None


def grade(db: Engine, case_id: str, *, applicant_user: str, grades: dict[str, Any],
          comment: str | None, now: datetime) -> dict[str, Any]:
    """Store the applicant's grades of their ended case; returns the rating as stored."""
    values = checked_grades(grades)
    text = checked_comment(comment)
    with db.begin() as conn:
        row = conn.execute(select(cases.c.status, cases.c.applicant_user, cases.c.authority,
                                  cases.c.number, cases.c.type)
                           .where(cases.c.id == case_id)).first()
        if row is None or row.applicant_user is None or row.applicant_user != applicant_user:
            raise NotFound(f"case {case_id} does not exist", field="case_id")
        if row.status in ACTIVE_STATUSES:
            raise NotAllowed("a case is rated after it has ended; this one is still "
                             f"{row.status}", field="case_id")
        if conn.execute(select(ratings.c.case_id).where(ratings.c.case_id == case_id)).first():
            raise NotAllowed("this case has been rated already; a case is rated once",
                             field="case_id")
        stored = {"case_id": case_id, "applicant_user": applicant_user,
                  "authority": row.authority, "number": row.number, "type": row.type,
                  **values, "comment": text, "created_at": now}
        try:
            conn.execute(insert(ratings), stored)
        except IntegrityError:  # a concurrent grade of the same case won
            raise NotAllowed("this case has been rated already; a case is rated once",
                             field="case_id") from None
    return stored


def rating_of(db: Engine, case_id: str) -> dict[str, Any] | None:
    """The case's rating, or None when it has none."""
    with db.connect() as conn:
        row = conn.execute(select(ratings).where(ratings.c.case_id == case_id)).first()
    return dict(row._mapping) if row is not None else None


def case_to_rate(db: Engine, case_id: str) -> dict[str, Any] | None:
    """What the rating form shows of a case (whose it is, its state), or None."""
    with db.connect() as conn:
        row = conn.execute(select(cases.c.id, cases.c.number, cases.c.status,
                                  cases.c.applicant_user, cases.c.authority, cases.c.reg_number,
                                  cases.c.start_date).where(cases.c.id == case_id)).first()
    return dict(row._mapping) if row is not None else None

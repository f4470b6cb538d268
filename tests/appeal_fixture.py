"""STAND-IN for CORE's registration of appeals (branch `appeals`, docs/appeals.md), for the tests of
repeated appeals, termination of correspondence, public answers and the cabinet until the merge.

An appeal is a real case started by the real engine on a shipped procedure (2.1), whose row is then
given what CORE's registration stores: `type` 'appeal', its kind, topic, question, e-mail and
registration number; `answer` closes it as CORE's reply does (status completed, an outcome, the
time). After the merge these helpers become `POST /api/cases` with `number: "appeal"` and
`POST /api/cases/{id}/reply`; nothing outside tests uses them.
"""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import update

from engine.store.tables import cases

_numbers = itertools.count(1)
STAND_IN_PROCEDURE = "2.1"


def make_appeal(db, case_id: str, *, question: str, email: str | None = None,
                anonymous: bool = False, kind: str = "complaint", topic: str = "housing") -> str:
    """Turn the fresh case `case_id` into an appeal, as CORE's registration stores one."""
    with db.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id).values(
            type="appeal", kind=kind, topic=topic, question=question, email=email,
            anonymous=anonymous, reg_number=f"test-{next(_numbers):06d}"))
    return case_id


def answer(db, case_id: str, *, at: datetime, outcome: str = "explained",
           ground: str | None = None) -> None:
    """Close the appeal `case_id` at `at` with `outcome`, as CORE's reply (or leave) does."""
    with db.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id).values(
            status="completed", outcome=outcome, ground=ground,
            closed_at=at.astimezone(UTC)))


def appeal(engine, question: str, *, applicant: str = "Иванов Иван Иванович",
           authority: str = "org-1", applicant_user: str | None = None,
           email: str | None = None, anonymous: bool = False, topic: str = "housing") -> str:
    """A new appeal registered now (at `engine.clock`) on a tests.casework.Engine."""
    case_id = engine.start(STAND_IN_PROCEDURE, applicant=applicant, authority=authority,
                           applicant_user=applicant_user)
    return make_appeal(engine.db, case_id, question=question, email=email, anonymous=anonymous,
                       topic=topic)

"""Repeated appeals (Law 300-З): the same applicant, the same question, the same authority, within
three years after a reply was given.

`earlier_appeals(conn, case_id)` answers, for one appeal, which earlier appeals it repeats: those
of the same authority (`cases.authority`, where the appeal is considered), from the same applicant
(engine.appeal_registers.identity), answered on the merits (outcome `satisfied`, `not_satisfied` or
`explained`) before this appeal was registered and at most `YEARS` years before it, whose question
is the same (engine.appeal_registers.wording: near-duplicate wording counts).

It is a query, not a flag stored at registration: the clerk's case page and the JSON route
(`GET /api/cases/{id}/repeats`) read it. The answer depends only on appeals closed before this one
was registered, so it never changes afterwards, and registration (CORE's `Cases.start`) needs no
hook. Bounded: at most `MAX_EARLIER` earlier appeals of the applicant (the newest replies) are
compared, each text cut to `wording.MAX_CHARS`; both reads use an index (`ix_cases_applicant_user`,
`ix_cases_authority_email`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.appeal_registers import identity
from engine.appeal_registers.identity import APPEAL, Appeal
from engine.appeal_registers.wording import same_question, score
from engine.store.tables import cases

YEARS = 3
MAX_EARLIER = 50  # earlier answered appeals of one applicant compared, newest replies first
REPLIED = ("satisfied", "not_satisfied", "explained")  # answered on the merits: a reply was given


@dataclass(frozen=True, slots=True)
class Earlier:
    """An earlier appeal the new one repeats, with how alike their questions are (0–100)."""

    case_id: str
    reg_number: str | None
    outcome: str
    replied_at: datetime
    score: float


def years_before(at: datetime, years: int) -> datetime:
    """`at` moved back `years` calendar years (29 February → 28 February)."""
    try:
        return at.replace(year=at.year - years)
    except ValueError:
        return at.replace(year=at.year - years, day=28)


def candidates(conn: Connection, appeal: Appeal, *, since: datetime | None = None,
               outcomes: tuple[str, ...] | None = REPLIED, limit: int | None = None) -> list[Appeal]:
    """Earlier appeals of the same authority from the same applicant, closed (with one of
    `outcomes`) before `appeal` was registered and not before `since`, newest first (at most
    `limit`, default `MAX_EARLIER`, per way of finding them: by account, by e-mail)."""
    limit = MAX_EARLIER if limit is None else limit
    where = [cases.c.type == APPEAL, cases.c.authority == appeal.authority,
             cases.c.id != appeal.id, cases.c.closed_at.is_not(None),
             cases.c.closed_at < appeal.started_at]
    if since is not None:
        where.append(cases.c.closed_at >= since)
    if outcomes is not None:
        where.append(cases.c.outcome.in_(outcomes))
    ways = []
    if appeal.applicant_user:
        ways.append(cases.c.applicant_user == appeal.applicant_user)
    if appeal.email_key:
        ways.append(cases.c.email.in_(identity.email_variants(appeal.email)))
    found: dict[str, Appeal] = {}
    for way in ways:
        rows = conn.execute(select(*identity.COLUMNS).where(*where, way)
                            .order_by(cases.c.closed_at.desc()).limit(limit)).all()
        for row in rows:
            other = identity.from_row(row)
            if identity.same_applicant(appeal, other):
                found.setdefault(other.id, other)
    return sorted(found.values(), key=lambda a: a.closed_at, reverse=True)


def earlier_appeals(conn: Connection, case_id: str) -> list[Earlier]:
    """The earlier appeals `case_id` repeats, newest reply first; [] for a case that is not an
    appeal, an anonymous appeal, or one that repeats nothing."""
    appeal = identity.load(conn, case_id)
    if appeal is None or appeal.anonymous or not appeal.question:
        return []
    since = years_before(appeal.started_at, YEARS)
    return [Earlier(other.id, other.reg_number, other.outcome, other.closed_at,
                    round(score(appeal.question, other.question), 1))
            for other in candidates(conn, appeal, since=since)
            if same_question(appeal.question, other.question)]


MAX_LISTED = 200  # case ids one call checks (a work-list page)


def repeated_among(conn: Connection, case_ids: list[str]) -> set[str]:
    """Which of `case_ids` (at most `MAX_LISTED`, a work-list page) are repeated appeals: one
    query finds the appeals among them, then each is checked as `earlier_appeals` does."""
    ids = list(dict.fromkeys(case_ids))[:MAX_LISTED]
    if not ids:
        return set()
    appeals = conn.execute(select(cases.c.id).where(cases.c.id.in_(ids),
                                                    cases.c.type == APPEAL)).scalars().all()
    return {case_id for case_id in appeals if earlier_appeals(conn, case_id)}

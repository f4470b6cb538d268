"""Termination of correspondence (Law 300-З): an authority answers no more appeals of an applicant
on a question it has answered on the merits repeatedly; later appeals on it are left without
consideration on the ground `LEAVE_GROUND`.

`record` is the supervisor's decision, taken on an appeal that repeats an answered one (engine.
appeals.repeats): it keeps who decided, when, the applicant as the appeal names them, the
authority, the question (the appeal's text) and the ground the supervisor gives. `screen` tells
whether an appeal about to be registered falls under a termination (the same authority, the same
applicant, the same question: engine.appeal_registers.identity and .wording); `termination_for` the same for
a registered appeal (only terminations decided before it was registered count).

What happens to such an appeal is decided at registration: CORE's registration (`Cases.start` for
an appeal, docs/appeals.md) calls `screen` and leaves the new appeal without consideration at once
on `LEAVE_GROUND`, exactly as it leaves an anonymous one on `anonymous` — no clerk can answer it on
the merits by mistake. Until that hook is wired (the merge), the case page and
`GET /api/cases/{id}/repeats` show the termination, and `POST /api/cases/{id}/leave` with this
ground is the clerk's action.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from engine.appeal_registers import identity, repeats
from engine.appeal_registers.wording import normalize, normalize_name, same_question
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.store.tables import correspondence_terminations as terminations
from engine.text import text_problem

LEAVE_GROUND = "correspondence_terminated"  # the leave ground id of procedures/appeal.yaml
MAX_GROUND = 2_000  # characters of the ground a supervisor writes
MAX_SCREENED = 50  # terminations of one applicant at one authority compared, newest first


@dataclass(frozen=True, slots=True)
class Termination:
    id: str
    authority: str
    case_id: str
    applicant: str
    applicant_user: str | None
    email: str | None
    question: str  # as the appeal put it
    ground: str
    decided_by: str
    decided_at: datetime

    @property
    def name_key(self) -> str:
        return normalize_name(self.applicant)

    @property
    def email_key(self) -> str | None:
        return self.email.strip().casefold() if self.email and self.email.strip() else None


def _termination(row) -> Termination:
    return Termination(row.id, row.authority, row.case_id, row.applicant, row.applicant_user,
                       row.email, row.question, row.ground, row.decided_by,
                       identity.utc(row.decided_at))


def check_ground(ground: str | None) -> str:
    ground = (ground or "").strip()
    if not ground or len(ground) > MAX_GROUND:
        raise InvalidInput(f"ground must be 1 to {MAX_GROUND} characters", field="ground")
    problem = text_problem(ground, free=True)
    if problem:
        raise InvalidInput(f"ground {problem}", field="ground")
    return ground


def record(db: Engine, case_id: str, ground: str | None, *, actor: str, now: datetime) -> Termination:
    """Terminate correspondence with the applicant of the appeal `case_id` on its question.

    Refused (nothing stored) for a case that is not an appeal (NotFound), an anonymous appeal or
    one that repeats no answered appeal (NotAllowed: the law lets an authority stop answering
    only a question it has answered), a second time on the same appeal (Conflict)."""
    ground = check_ground(ground)
    with db.begin() as conn:
        appeal = identity.load(conn, case_id)
        if appeal is None:
            raise NotFound(f"no appeal {case_id}", field="case_id")
        if appeal.anonymous:
            raise NotAllowed("an anonymous appeal has no applicant to stop answering",
                             field="case_id")
        if not repeats.earlier_appeals(conn, case_id):
            raise NotAllowed("correspondence is terminated only on a question already answered "
                             "on the merits: this appeal repeats no answered appeal",
                             field="case_id")
        values = {"id": str(uuid.uuid4()), "authority": appeal.authority, "case_id": case_id,
                  "applicant": appeal.applicant, "applicant_user": appeal.applicant_user,
                  "email": appeal.email, "question": appeal.text, "ground": ground,
                  "decided_by": actor, "decided_at": now}
        try:
            with conn.begin_nested():
                conn.execute(insert(terminations).values(**values))
        except IntegrityError:
            raise Conflict("correspondence was terminated on this appeal already",
                           field="case_id") from None
    return Termination(**values)


@dataclass(frozen=True, slots=True)
class _Applicant:
    applicant_user: str | None
    name_key: str
    email_key: str | None
    anonymous: bool = False


def screen(conn: Connection, *, authority: str, applicant: str, applicant_user: str | None,
           email: str | None, question: str | None, before: datetime | None = None,
           anonymous: bool = False) -> Termination | None:
    """The termination an appeal with these facts falls under (decided before `before`, if
    given), or None. Bounded: at most `MAX_SCREENED` terminations per way of finding them."""
    text = normalize(question)
    if anonymous or not text:
        return None
    who = _Applicant(applicant_user, normalize_name(applicant),
                     email.strip().casefold() if email and email.strip() else None)
    ways = []
    if applicant_user:
        ways.append(terminations.c.applicant_user == applicant_user)
    if who.email_key:
        ways.append(terminations.c.email.in_(identity.email_variants(email)))
    where = [terminations.c.authority == authority]
    if before is not None:
        where.append(terminations.c.decided_at < before)
    for way in ways:
        rows = conn.execute(select(terminations).where(*where, way)
                            .order_by(terminations.c.decided_at.desc()).limit(MAX_SCREENED)).all()
        for row in rows:
            found = _termination(row)
            if identity.same_applicant(who, found) and same_question(text, normalize(found.question)):
                return found
    return None


def termination_for(conn: Connection, case_id: str) -> Termination | None:
    """The termination the registered appeal `case_id` falls under (decided before it was
    registered, on another appeal), or None."""
    appeal = identity.load(conn, case_id)
    if appeal is None:
        return None
    found = screen(conn, authority=appeal.authority, applicant=appeal.applicant,
                   applicant_user=appeal.applicant_user, email=appeal.email, question=appeal.text,
                   before=appeal.started_at, anonymous=appeal.anonymous)
    return None if found is None or found.case_id == case_id else found


def terminations_of(conn: Connection, authority: str, limit: int = 100) -> list[Termination]:
    """The authority's terminations, newest first (at most `limit`)."""
    rows = conn.execute(select(terminations).where(terminations.c.authority == authority)
                        .order_by(terminations.c.decided_at.desc()).limit(limit)).all()
    return [_termination(r) for r in rows]

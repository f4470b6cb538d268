"""Who an appeal is from, and whether two appeals (or a termination) are from the same applicant.

The same applicant (Law 300-З, repeated appeals and termination of correspondence) is the same
okno account (`cases.applicant_user`) when both sides have one; otherwise the same name
(normalised: case, ё/е, spaces) *and* the same e-mail address. A name alone never matches: two
citizens share names, and an anonymous appeal has no applicant to match.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.appeal_registers.wording import normalize, normalize_name
from engine.store.tables import cases

APPEAL = "appeal"


@dataclass(frozen=True, slots=True)
class Appeal:
    """The facts of one appeal the registers compare (its row, its text normalised)."""

    id: str
    reg_number: str | None
    authority: str
    applicant: str
    applicant_user: str | None
    email: str | None
    anonymous: bool
    question: str  # normalised (engine.appeal_registers.wording.normalize)
    text: str  # as the applicant wrote it
    topic: str | None
    started_at: datetime  # UTC
    status: str
    outcome: str | None
    closed_at: datetime | None  # UTC

    @property
    def name_key(self) -> str:
        return normalize_name(self.applicant)

    @property
    def email_key(self) -> str | None:
        return self.email.strip().casefold() if self.email and self.email.strip() else None


COLUMNS = (cases.c.id, cases.c.type, cases.c.reg_number, cases.c.authority, cases.c.applicant,
           cases.c.applicant_user, cases.c.email, cases.c.anonymous, cases.c.question,
           cases.c.topic, cases.c.started_at, cases.c.status, cases.c.outcome, cases.c.closed_at)


def utc(at: datetime | None) -> datetime | None:
    """`at` in UTC (SQLite returns naive UTC times)."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def from_row(row: Any) -> Appeal:
    return Appeal(id=row.id, reg_number=row.reg_number, authority=row.authority,
                  applicant=row.applicant, applicant_user=row.applicant_user, email=row.email,
                  anonymous=bool(row.anonymous), question=normalize(row.question),
                  text=row.question or "",
                  topic=row.topic, started_at=utc(row.started_at), status=row.status,
                  outcome=row.outcome, closed_at=utc(row.closed_at))


def load(conn: Connection, case_id: str) -> Appeal | None:
    """The appeal `case_id`; None when there is no such case or it is not an appeal."""
    row = conn.execute(select(*COLUMNS).where(cases.c.id == case_id)).first()
    if row is None or row.type != APPEAL:
        return None
    return from_row(row)


def same_applicant(a: Appeal | Any, b: Appeal | Any) -> bool:
    """Whether `a` and `b` (appeals, or anything with `applicant_user`, `name_key`, `email_key`)
    come from the same applicant; never for an anonymous appeal."""
    if getattr(a, "anonymous", False) or getattr(b, "anonymous", False):
        return False
    if a.applicant_user and b.applicant_user:
        return a.applicant_user == b.applicant_user
    return bool(a.name_key and a.email_key and a.name_key == b.name_key
                and a.email_key == b.email_key)


def email_variants(email: str | None) -> list[str]:
    """The stored spellings an address may match by index: as typed and in lower case."""
    if not email or not email.strip():
        return []
    return sorted({email.strip(), email.strip().casefold()})

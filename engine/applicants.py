"""Applicants who sign up themselves: an account of role `applicant` in the organisation
`CITIZENS`, and what they gave beside it (`applicant_profiles`: the e-mail their appeals' notices
go to by default).

Sign-up checks what a stranger may choose (`check`): a name of 3 to 64 letters, digits, `.`, `_`
or `-` (it is the account's name, shown to clerks beside their cases), a password of 8 to 1024
characters, an optional e-mail address of at most 254 characters. Each error names its field. How
often one address may sign up is the face's business (api/auth.py throttles it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from engine.accounts import User, add_user
from engine.clock import SystemClock
from engine.errors import InvalidInput
from engine.store.tables import applicant_profiles

CITIZENS = "citizens"
NAME = re.compile(r"^[A-Za-z0-9а-яА-ЯёЁ._-]{3,64}$")
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
MIN_PASSWORD, MAX_PASSWORD, MAX_EMAIL = 8, 1024, 254


@dataclass(frozen=True, slots=True)
class Applicant:
    name: str
    email: str | None

    @property
    def user(self) -> User:
        return User(self.name, "applicant", CITIZENS)


def check(name: str | None, password: str | None, email: str | None) -> tuple[str, str, str | None]:
    """The cleaned (name, password, email); InvalidInput naming the first field at fault."""
    name = (name or "").strip()
    if not NAME.match(name):
        raise InvalidInput("name must be 3 to 64 letters, digits, '.', '_' or '-'", field="name")
    password = password or ""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                           field="password")
    email = (email or "").strip() or None
    if email is not None and (len(email) > MAX_EMAIL or not EMAIL.match(email)):
        raise InvalidInput("email must be an e-mail address (name@domain), at most "
                           f"{MAX_EMAIL} characters", field="email")
    return name, password, email


def sign_up(db: Engine, name: str | None, password: str | None, email: str | None,
            now: datetime | None = None) -> Applicant:
    """Create the applicant account `name` (Conflict naming `name` if it is taken)."""
    name, password, email = check(name, password, email)
    add_user(db, name, password, "applicant", CITIZENS)
    with db.begin() as conn:
        conn.execute(insert(applicant_profiles).values(
            name=name, email=email, created_at=now or SystemClock().now()))
    return Applicant(name, email)


def email_of(conn: Connection, name: str) -> str | None:
    """The e-mail the applicant `name` gave when signing up, if any."""
    return conn.execute(select(applicant_profiles.c.email)
                        .where(applicant_profiles.c.name == name)).scalar_one_or_none()

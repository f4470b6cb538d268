"""Accounts and remembered answers: who may use the API, and the Idempotency-Key store.

A user has a unique name, an argon2 password hash, one role and one organisation (an authority
code such as `minsk-sovetsky`; cases carry the same code in `cases.authority`). Passwords are
never stored or logged in clear.

The `idempotency` table keeps the first successful answer to a command sent with an
`Idempotency-Key`, per user, so a retried request returns that answer instead of acting twice.
A key is remembered for `OKNO_IDEMPOTENCY_HOURS` (default 24): an older key counts as unused,
and the worker deletes old rows (`purge_keys`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from engine.clock import SystemClock
from engine.errors import Conflict, InvalidInput
from engine.store import metadata

ROLES = ("analyst", "clerk", "supervisor", "applicant", "auditor")
STAFF = ("clerk", "supervisor")  # roles that work on the cases of their organisation

users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("org", String(128), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("user", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("route", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),  # 0 while the first request is still running
    Column("response_body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),  # expiry sweeps
)

_hasher = PasswordHasher()
# Verifying against this keeps "no such user" as slow as "wrong password" (no user enumeration).
_DUMMY_HASH = _hasher.hash("okno-no-such-user")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    org: str


def add_user(db: Engine, name: str, password: str, role: str, org: str,
             clock: SystemClock | None = None) -> User:
    """Create a user; InvalidInput names the field at fault, Conflict if the name is taken."""
    name, org = (name or "").strip(), (org or "").strip()
    if not name or len(name) > 128 or any(c.isspace() for c in name):
        raise InvalidInput("name must be 1 to 128 characters without spaces", field="name")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {list(ROLES)}", field="role")
    if not org or len(org) > 128:
        raise InvalidInput("org must be 1 to 128 characters", field="org")
    if not password:
        raise InvalidInput("password must not be empty", field="password")
    now = (clock or SystemClock()).now()
    try:
        with db.begin() as conn:
            conn.execute(insert(users).values(name=name, password_hash=_hasher.hash(password),
                                              role=role, org=org, created_at=now))
    except IntegrityError:
        raise Conflict(f"user {name!r} exists already", field="name") from None
    return User(name, role, org)


def verify_password(db: Engine, name: str, password: str) -> User | None:
    """The user if `password` is theirs, else None (same cost either way)."""
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    return User(row.name, row.role, row.org)


def list_users(db: Engine) -> list[User]:
    with db.connect() as conn:
        rows = conn.execute(select(users.c.name, users.c.role, users.c.org)
                            .order_by(users.c.org, users.c.name)).all()
    return [User(*r) for r in rows]


def role_of(db: Engine, name: str) -> str | None:
    """The role of the account `name`, or None if there is no such account."""
    with db.connect() as conn:
        return conn.execute(select(users.c.role).where(users.c.name == name)).scalar_one_or_none()


def org_has_staff(db: Engine, org: str) -> bool:
    """Whether some clerk or supervisor works for `org` (an authority that can take a case)."""
    with db.connect() as conn:
        return conn.execute(select(users.c.name).where(
            users.c.org == org, users.c.role.in_(STAFF)).limit(1)).first() is not None


# ------------------------------------------------------------------------------------- idempotency

def request_hash(route: str, body: Any) -> str:
    """SHA-256 of the route and the canonical JSON of the body: the same request hashes the same."""
    text = orjson.dumps({"route": route, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


def idempotency_retention() -> timedelta:
    """How long an Idempotency-Key is remembered: OKNO_IDEMPOTENCY_HOURS (default 24)."""
    try:
        hours = max(1, int(os.environ.get("OKNO_IDEMPOTENCY_HOURS", "24")))
    except ValueError:
        hours = 24
    return timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the store knows about a key: the request's hash and, once finished, its answer."""

    route: str
    request_hash: str
    status_code: int  # 0: the first request with this key has not finished
    body: bytes | None


def reserve_key(db: Engine, user: str, key: str, route: str, digest: str, now: datetime,
                stale_before: datetime | None = None) -> Remembered | None:
    """Claim `key` for a new request. None if claimed now; else what was stored for it before.

    A key stored before `stale_before` has expired: its row is deleted and the key claimed anew."""
    try:
        with db.begin() as conn:
            conn.execute(insert(idempotency).values(user=user, key=key, route=route,
                                                    request_hash=digest, status_code=0,
                                                    response_body=None, created_at=now))
        return None
    except IntegrityError:
        pass
    if stale_before is not None:
        with db.begin() as conn:
            expired = conn.execute(delete(idempotency).where(
                idempotency.c.user == user, idempotency.c.key == key,
                idempotency.c.created_at < stale_before)).rowcount
        if expired:
            return reserve_key(db, user, key, route, digest, now, stale_before)
    with db.connect() as conn:
        row = conn.execute(select(idempotency).where(idempotency.c.user == user,
                                                     idempotency.c.key == key)).first()
    if row is None:  # released between our insert and read: try once more
        return reserve_key(db, user, key, route, digest, now, stale_before)
    return Remembered(row.route, row.request_hash, row.status_code, row.response_body)


def remember_answer(db: Engine, user: str, key: str, status_code: int, body: bytes) -> None:
    """Store the answer of the request that reserved `key`."""
    with db.begin() as conn:
        conn.execute(update(idempotency).where(idempotency.c.user == user, idempotency.c.key == key)
                     .values(status_code=status_code, response_body=body))


def release_key(db: Engine, user: str, key: str) -> None:
    """Forget a reservation whose request failed without changing anything (it may be retried)."""
    with db.begin() as conn:
        conn.execute(delete(idempotency).where(idempotency.c.user == user, idempotency.c.key == key,
                                               idempotency.c.status_code == 0))


def purge_keys(db: Engine, older_than: datetime, batch: int = 1000) -> int:
    """Delete the keys stored before `older_than`; returns how many.

    `batch` rows per transaction, so API requests waiting to write are held up only briefly.
    (No index on `created_at`: each batch scans the table, which holds one retention period.)"""
    picked = (select(idempotency.c.user, idempotency.c.key)
              .where(idempotency.c.created_at < older_than).limit(batch))
    stale = delete(idempotency).where(tuple_(idempotency.c.user, idempotency.c.key).in_(picked))
    total = 0
    while True:
        with db.begin() as conn:
            deleted = conn.execute(stale).rowcount
        total += deleted
        if deleted < batch:
            return total

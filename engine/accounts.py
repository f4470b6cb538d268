"""Accounts: who may use okno.

A user has a unique name, an argon2 password hash, one role and one organisation (an authority
code such as `minsk-sovetsky`; cases carry the same code in `cases.authority`). Passwords are
never stored or logged in clear.

An operator may disable an account (`disabled_at`; it cannot sign in, and the API refuses its
tokens) and enable it again, reset its password or change its role. Disabling and a new
password set `credentials_changed_at`: tokens issued before it stay invalid, also after the
account is enabled again. Both times are wall-clock UTC, like the tokens' `iat`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from engine.clock import SystemClock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.store.fast_path import for_engine
from engine.store.tables import users

ROLES = ("analyst", "clerk", "supervisor", "applicant", "auditor")
STAFF = ("clerk", "supervisor")  # roles that work on the cases of their organisation

_hasher = PasswordHasher()  # argon2-cffi's defaults (RFC 9106, low memory)
# Verifying against this keeps "no such user" as slow as "wrong password" (no user enumeration).
# Made on first use with the hasher in use, so importing the module costs no hash.
_dummy_hash: str | None = None


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash and verify passwords with `hasher` from now on; returns the one used before.

    For tests, which install a cheap hasher: production always uses the default. The dummy hash
    is made again with `hasher`, so an unknown name still costs what a wrong password costs.
    """
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("okno-no-such-user")
    return _dummy_hash


def make_dummy_hash() -> None:
    """Make the dummy hash unless it is made (a server, at its first sign-in whatever the name):
    else the first unknown name would cost a hash more than a known one, telling it is unknown."""
    _dummy()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    org: str


@dataclass(frozen=True, slots=True)
class Account:
    """A stored account: the user, and whether it is disabled or has changed its password."""

    name: str
    role: str
    org: str
    disabled_at: datetime | None = None
    credentials_changed_at: datetime | None = None  # tokens issued before it are refused

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def user(self) -> User:
        return User(self.name, self.role, self.org)


def _check_role(role: str, org: str) -> str:
    """The stripped `org`; InvalidInput unless `role` and `org` are acceptable."""
    org = (org or "").strip()
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {list(ROLES)}", field="role")
    if not org or len(org) > 128:
        raise InvalidInput("org must be 1 to 128 characters", field="org")
    return org


def _check_password(password: str) -> None:
    if not password:
        raise InvalidInput("password must not be empty", field="password")


def _utc(at: datetime) -> datetime:
    """`at` in UTC (a naive time is taken as UTC): SQLite keeps no offset, so store UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def add_user(db: Engine, name: str, password: str, role: str, org: str,
             clock: SystemClock | None = None) -> User:
    """Create a user; InvalidInput names the field at fault, Conflict if the name is taken."""
    name = (name or "").strip()
    if not name or len(name) > 128 or any(c.isspace() for c in name):
        raise InvalidInput("name must be 1 to 128 characters without spaces", field="name")
    org = _check_role(role, org)
    _check_password(password)
    now = (clock or SystemClock()).now()
    try:
        with db.begin() as conn:
            conn.execute(insert(users).values(name=name, password_hash=_hasher.hash(password),
                                              role=role, org=org, created_at=now))
    except IntegrityError:
        raise Conflict(f"user {name!r} exists already", field="name") from None
    return User(name, role, org)


def verify_password(db: Engine, name: str, password: str) -> User | None:
    """The user if `password` is theirs and the account is not disabled, else None (same cost
    either way: the hash is checked even for a disabled or unknown account)."""
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _dummy(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return User(row.name, row.role, row.org)


_ACCOUNT_COLUMNS = (users.c.name, users.c.role, users.c.org, users.c.disabled_at,
                    users.c.credentials_changed_at)


def _account(row: Any) -> Account:
    disabled, changed = row.disabled_at, row.credentials_changed_at
    return Account(row.name, row.role, row.org, disabled and _utc(disabled),
                   changed and _utc(changed))


_BY_NAME = select(*_ACCOUNT_COLUMNS).where(users.c.name == bindparam("name", type_=users.c.name.type))


class AccountReader:
    """Accounts by name on the raw fast path: the one read by primary key each authenticated
    request makes, so a disabled account, a new password or a new role is seen by every server
    process on its next request (nothing is cached)."""

    def __init__(self, db: Engine) -> None:
        self.raw = for_engine(db)
        self._by_name = self.raw.prepare(_BY_NAME, _ACCOUNT_COLUMNS)

    def get(self, name: str) -> Account | None:
        with self.raw.read() as cursor:
            row = self._by_name.one(cursor, {"name": name})
        if row is None:
            return None
        disabled, changed = row["disabled_at"], row["credentials_changed_at"]
        return Account(row["name"], row["role"], row["org"], disabled and _utc(disabled),
                       changed and _utc(changed))


def list_users(db: Engine) -> list[Account]:
    """Every account, by organisation and name."""
    with db.connect() as conn:
        rows = conn.execute(select(*_ACCOUNT_COLUMNS).order_by(users.c.org, users.c.name)).all()
    return [_account(r) for r in rows]


def get_account(db: Engine, name: str) -> Account | None:
    """The account `name`, or None if there is none."""
    with db.connect() as conn:
        row = conn.execute(select(*_ACCOUNT_COLUMNS).where(users.c.name == name)).first()
    return None if row is None else _account(row)


def _change(db: Engine, name: str, *where: Any, **values: Any) -> bool:
    """Update the account `name` where `where` holds; False if it does not (nothing changes),
    NotFound if there is no such account."""
    with db.begin() as conn:
        changed = conn.execute(update(users).where(users.c.name == name, *where)
                               .values(**values)).rowcount
    if not changed and get_account(db, name) is None:
        raise NotFound(f"no user {name!r}", field="name")
    return bool(changed)


def disable_user(db: Engine, name: str, now: datetime) -> bool:
    """Disable the account `name`: it cannot sign in and its tokens are refused from now on,
    also after it is enabled again. False if it was disabled already (nothing changes)."""
    return _change(db, name, users.c.disabled_at.is_(None),
                   disabled_at=_utc(now), credentials_changed_at=_utc(now))


def enable_user(db: Engine, name: str) -> bool:
    """Let the account `name` sign in again (its old tokens stay invalid). False if it was not
    disabled."""
    return _change(db, name, users.c.disabled_at.is_not(None), disabled_at=None)


def set_password(db: Engine, name: str, password: str, now: datetime) -> None:
    """Give the account `name` a new password; tokens issued before `now` are refused."""
    _check_password(password)
    _change(db, name, password_hash=_hasher.hash(password), credentials_changed_at=_utc(now))


def set_role(db: Engine, name: str, role: str, org: str) -> User:
    """Give the account `name` another role and organisation; tokens naming the old ones are
    refused."""
    org = _check_role(role, org)
    _change(db, name, role=role, org=org)
    return User(name, role, org)


def org_has_staff(db: Engine, org: str) -> bool:
    """Whether some clerk or supervisor works for `org` (an authority that can take a case)."""
    with db.connect() as conn:
        return conn.execute(select(users.c.name).where(
            users.c.org == org, users.c.role.in_(STAFF)).limit(1)).first() is not None



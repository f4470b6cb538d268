"""Remembered answers: the Idempotency-Key store.

The `idempotency` table keeps the first successful answer to a command sent with an
`Idempotency-Key`, per user, so a retried request returns that answer instead of acting twice.
A key is remembered for the retention period the caller passes (the `idempotency_hours` setting,
default 24): an older key counts as unused, and the worker deletes old rows (`purge_keys`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from engine.store.tables import idempotency


def request_hash(route: str, body: Any) -> str:
    """SHA-256 of the route and the canonical JSON of the body: the same request hashes the same."""
    text = orjson.dumps({"route": route, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


DEFAULT_RETENTION = timedelta(hours=24)  # the `idempotency_hours` setting's default


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

"""Remembered answers: the Idempotency-Key store.

The `idempotency` table keeps the first successful answer to a command sent with an
`Idempotency-Key`, per user, so a retried request returns that answer instead of acting twice.

The answer is stored in the command's own transaction (`Remember`, passed to the unit of work):
the command's rows and its answer commit together or not at all. There is no reservation row
outside that transaction, so a process that dies mid-command leaves nothing behind: the retry
runs the command afresh (nothing was committed) or finds the answer (everything was). Two
requests with one key at once may both run the command, but only one commits: the other's
insert of the key fails on the primary key (`KeyTaken`), which rolls its whole transaction back,
and it answers with what the first stored.

A key is remembered for the retention period the caller passes (the `idempotency_hours` setting,
default 24): an older key counts as unused, and the worker deletes old rows (`purge_keys`).
Rows with status 0 are reservations written by okno before answers moved into the command's
transaction; they still answer 409 until they expire (their command may have committed).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from engine.store.tables import idempotency


def request_hash(route: str, body: Any) -> str:
    """SHA-256 of the route and the canonical JSON of the body: the same request hashes the same."""
    text = orjson.dumps({"route": route, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


DEFAULT_RETENTION = timedelta(hours=24)  # the `idempotency_hours` setting's default


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the store knows about a key: the request's hash and its answer."""

    route: str
    request_hash: str
    status_code: int  # 0: a reservation left by an older okno (see the module docstring)
    body: bytes | None

    def same_request(self, route: str, digest: str) -> bool:
        return self.route == route and self.request_hash == digest


class KeyTaken(Exception):
    """Another request with the same key committed first; this command's transaction is undone."""


@dataclass(slots=True)
class Remember:
    """A keyed command's answer, to be stored in the command's own transaction.

    `answer(conn, case_id)` makes the answer (status, body) on the command's open transaction,
    so it reads what the command wrote; the unit of work calls `store` with it before commit.
    Once the command has returned, `answered` is the answer it committed.
    """

    user: str
    key: str
    route: str
    request_hash: str
    at: datetime  # when the key is stored (the injected clock)
    stale_before: datetime  # a row stored before this has expired
    answer: Callable[[Connection, str], tuple[int, bytes]]
    answered: tuple[int, bytes] | None = None

    def store(self, conn: Connection, case_id: str) -> tuple[int, bytes]:
        """Make the answer and insert it under the key, on `conn`'s transaction; KeyTaken if the
        key was stored meanwhile (the caller must let the transaction roll back)."""
        status, body = self.answer(conn, case_id)
        conn.execute(delete(idempotency).where(
            idempotency.c.user == self.user, idempotency.c.key == self.key,
            idempotency.c.created_at < self.stale_before))
        try:
            conn.execute(insert(idempotency).values(
                user=self.user, key=self.key, route=self.route, request_hash=self.request_hash,
                status_code=status, response_body=body, created_at=self.at))
        except IntegrityError as exc:
            raise KeyTaken(self.key) from exc
        self.answered = (status, body)
        return status, body


def lookup(db: Engine, user: str, key: str, stale_before: datetime) -> Remembered | None:
    """What is stored for `key` of `user`, or None (never stored, or expired)."""
    with db.connect() as conn:
        row = conn.execute(select(idempotency).where(
            idempotency.c.user == user, idempotency.c.key == key,
            idempotency.c.created_at >= stale_before)).first()
    return None if row is None else Remembered(row.route, row.request_hash, row.status_code,
                                               row.response_body)


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

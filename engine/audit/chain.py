"""The event rows of the audit log: one per command, chained per case by keyed hashes.

An event's `hash` is an HMAC-SHA256, under the current audit key (`keys`), of its case, the
previous event's hash, its sequence number in the case, time, actor, action, step, the digest of
its data and the effects it wrote (the rows it changed, `facts.effects`). So an edited, reordered,
moved or deleted event breaks the chain, and a forged one cannot be made to fit without the key:
plain SHA-256 (the formula before migration 0009, `legacy_hash`) is public. The case row keeps the
newest hash and its row version equals the number of events, so the newest event is covered too.
The global order (`gseq`) is assigned by the database on insert: the step reads no counter.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.audit.keys import AuditKey, Keyring
from engine.store.tables import events

GENESIS = "0" * 64
EVENT_PURPOSE = b"okno audit event v1"
_SORTED = orjson.OPT_SORT_KEYS


def digest(data: Any) -> str:
    """SHA-256 of the canonical JSON of `data`."""
    return hashlib.sha256(orjson.dumps(data, option=_SORTED)).hexdigest()


def instant(at: datetime) -> str:
    """A time as hashed and compared: naive UTC, microseconds (SQLite hands times back naive,
    PostgreSQL aware)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


_AS_IS = frozenset((str, int, bool, float, type(None)))


def plain(value: Any) -> Any:
    """A stored value in the one form both the effects and the stored rows are compared in."""
    if value.__class__ in _AS_IS:  # most values: the step's hot path asks first
        return value
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return value


def legacy_hash(case_id: str, prev_hash: str, seq: int, at: datetime, actor: str, action: str,
                step: str | None, data_digest: str) -> str:
    """The formula before migration 0009: plain SHA-256, which anyone can recompute."""
    text = "\x1f".join((case_id, prev_hash, str(seq), instant(at), actor, action, step or "",
                        data_digest))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EventMac:
    """The keyed hash of events under one key (the HMAC state is set up once, copied per event)."""

    def __init__(self, key: AuditKey) -> None:
        self.key = key
        self._mac = key.mac(EVENT_PURPOSE)

    def __call__(self, case_id: str, prev_hash: str, seq: int, at: datetime, actor: str,
                 action: str, step: str | None, data_digest: str, effects: str) -> str:
        mac = self._mac.copy()
        mac.update("\x1f".join((case_id, prev_hash, str(seq), instant(at), actor, action, step or "",
                                data_digest, effects)).encode("utf-8"))
        return mac.hexdigest()


class EventWriter:
    """Makes the row of a case's next event, keyed with the keyring's current key."""

    def __init__(self, keys: Keyring) -> None:
        self.mac = EventMac(keys.current)

    def new_event(self, case_id: str, seq: int, prev_hash: str, at: datetime, actor: str,
                  action: str, step: str | None, data: dict[str, Any],
                  effects: dict[str, Any]) -> dict[str, Any]:
        text = orjson.dumps(data, option=_SORTED)
        data_digest = hashlib.sha256(text).hexdigest()  # digest(data), without encoding it twice
        effects_text = orjson.dumps(effects, option=_SORTED).decode()
        return {
            "case_id": case_id, "seq": seq, "at": at, "actor": actor, "action": action, "step": step,
            "data": text.decode(), "digest": data_digest, "effects": effects_text,
            "key_id": self.mac.key.id, "prev_hash": prev_hash,
            "hash": self.mac(case_id, prev_hash, seq, at, actor, action, step, data_digest, effects_text),
        }


def case_events(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The events of one case in chain order, every column."""
    rows = conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.seq))
    return [dict(r._mapping) for r in rows]

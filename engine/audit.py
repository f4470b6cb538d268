"""The audit trail: one append-only event per command, hash-chained per case.

Each event's hash covers the previous event's hash, its own sequence number, time, actor, action,
step and the digest of its data, so an edited, reordered or deleted event breaks the chain. The
case row keeps the last hash and its row version equals the number of events, so deleting the
newest event is caught too.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from engine.store.tables import cases, events

GENESIS = "0" * 64


def digest(data: Any) -> str:
    """SHA-256 of the canonical JSON of `data`."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def chain_hash(case_id: str, prev_hash: str, seq: int, at: datetime, actor: str, action: str,
               step: str | None, data_digest: str) -> str:
    """The hash that links an event to the one before it, and to its case (so whole chains
    cannot be swapped between cases)."""
    text = "\x1f".join((case_id, prev_hash, str(seq), _instant(at), actor, action, step or "",
                        data_digest))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _instant(at: datetime) -> str:
    # Times are UTC; SQLite hands them back naive, PostgreSQL aware: hash one form for both.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def new_event(case_id: str, seq: int, prev_hash: str, at: datetime, actor: str, action: str,
              step: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """The row for the next event of a case."""
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    data_digest = hashlib.sha256(text).hexdigest()  # digest(data), without encoding it twice
    return {
        "case_id": case_id, "seq": seq, "at": at, "actor": actor, "action": action, "step": step,
        "data": text.decode(), "digest": data_digest,
        "prev_hash": prev_hash,
        "hash": chain_hash(case_id, prev_hash, seq, at, actor, action, step, data_digest),
    }


@dataclass(frozen=True)
class Break:
    """One place where the chain of a case does not hold."""

    case_id: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else "case"
        return f"case {self.case_id}, {where}: {self.message}"


def case_events(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.seq))
    return [dict(r._mapping) for r in rows]


def verify_case(case_id: str, rows: list[dict[str, Any]], last_hash: str, row_version: int) -> Iterator[Break]:
    """Every break in one case's chain, given its events in seq order and its case row."""
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row["seq"] != expected_seq:
            yield Break(case_id, row["seq"], f"expected event {expected_seq}: an event is missing or reordered")
        if row["prev_hash"] != prev:
            yield Break(case_id, row["seq"], "does not follow the previous event (deleted or reordered)")
        data = orjson.loads(row["data"])
        if digest(data) != row["digest"]:
            yield Break(case_id, row["seq"], "its data was edited")
        recomputed = chain_hash(case_id, row["prev_hash"], row["seq"], row["at"], row["actor"], row["action"],
                                row["step"], row["digest"])
        if recomputed != row["hash"]:
            yield Break(case_id, row["seq"], "its fields were edited")
        prev = row["hash"]
    if len(rows) != row_version:
        yield Break(case_id, None, f"{row_version} events expected, {len(rows)} found")
    if prev != last_hash:
        yield Break(case_id, None, "the newest event does not match the case (deleted or edited)")


def verify(engine: Engine, case_id: str | None = None) -> tuple[int, list[Break]]:
    """Check the chain of one case or of all cases; return how many were checked and the breaks."""
    breaks: list[Break] = []
    checked = 0
    with engine.connect() as conn:
        query = select(cases.c.id, cases.c.last_hash, cases.c.row_version).order_by(cases.c.id)
        if case_id is not None:
            query = query.where(cases.c.id == case_id)
        for cid, last_hash, row_version in conn.execute(query).all():
            checked += 1
            breaks.extend(verify_case(cid, case_events(conn, cid), last_hash, row_version))
        known = select(cases.c.id)
        orphans = conn.execute(
            select(events.c.case_id).where(events.c.case_id.not_in(known)).distinct()
        ).scalars().all()
        if case_id is None:
            breaks.extend(Break(o, None, "events of a case that does not exist") for o in orphans)
    return checked, breaks

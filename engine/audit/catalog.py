"""The catalog's chain: audit events that belong to no case (publications), in the same log.

A publication (engine.publication) changes what every new case runs, so it is audited like a
step: one event in `events`, in the publication's own transaction, chained under the pseudo case
id `catalog` (sequence, previous hash, HMAC under the audit key, like a case's chain), so it is
in the global order and under every signed checkpoint too. Its `effects` hold the publication
row as written; `breaks` checks the chain and compares every `publications` row with its event:
an edited, deleted or inserted publication, or an edited, deleted or forged event, is named.

What it cannot see alone: the newest publication deleted together with its event (no head row
keeps the chain's end, as `cases` does for a case); the checkpoints catch that once one has
signed the event (docs/engine.md, "Audit").
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.audit.chain import GENESIS, EventWriter, plain
from engine.store.tables import events, procedure_versions, publications

CATALOG = "catalog"  # the chain's `case_id` (no case has it: case ids are UUIDs)
PUBLISH = "publish"
CHAIN_LOCK = 0x6F6B6E6F_63617431  # PostgreSQL advisory lock: one catalog append at a time


def append(conn: Connection, writer: EventWriter, at: datetime, actor: str, action: str,
           data: dict[str, Any], effects: dict[str, Any]) -> dict[str, Any]:
    """Append the catalog chain's next event in `conn`'s transaction; the event row. On SQLite
    the caller's write transaction (BEGIN IMMEDIATE) orders appends; on PostgreSQL a transaction
    advisory lock does, so two publications never race for the same `seq`."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")
    head = conn.execute(select(events.c.seq, events.c.hash).where(events.c.case_id == CATALOG)
                        .order_by(events.c.seq.desc()).limit(1)).first()
    seq, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS)
    event = writer.new_event(CATALOG, seq, prev, at, actor, action, None, data, effects)
    conn.execute(events.insert().values(**event))
    return event


def publication_row(row: dict[str, Any]) -> dict[str, Any]:
    """A publications row in the form its event keeps (and the stored row is compared in)."""
    return {str(k): plain(v) for k, v in row.items()}


def chain_rows(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(events).where(events.c.case_id == CATALOG).order_by(events.c.seq))
    return [dict(r._mapping) for r in rows]


def publication_breaks(conn: Connection, rows: list[dict[str, Any]]) -> Iterator[tuple[int | None, str]]:
    """(event seq or None, what) for each way the publications rows differ from their events."""
    recorded: dict[int, tuple[int, dict[str, Any]]] = {}
    for event in rows:
        if event["action"] != PUBLISH:
            continue
        try:
            row = orjson.loads(event["effects"] or "{}")["publication"]
            recorded[int(row["id"])] = (event["seq"], row)
        except (ValueError, KeyError, TypeError):
            yield event["seq"], "records no publication (edited)"
    stored = {r.id: publication_row(dict(r._mapping))
              for r in conn.execute(select(publications).order_by(publications.c.id))}
    known = set(conn.execute(select(procedure_versions.c.version)).scalars())
    for pub_id in sorted(stored.keys() - recorded.keys()):
        yield None, f"publication {pub_id} has no audit event (inserted or its event deleted)"
    for pub_id in sorted(recorded.keys() - stored.keys()):
        yield recorded[pub_id][0], f"publication {pub_id} is missing from the database (deleted)"
    for pub_id in sorted(recorded.keys() & stored.keys()):
        seq, mine = recorded[pub_id]
        theirs = stored[pub_id]
        for key, value in mine.items():
            if theirs.get(key) != value:
                yield seq, (f"publication {pub_id}: {key} is {theirs.get(key)!r} in the database, "
                            f"{value!r} by its event")
        try:
            published = orjson.loads(mine.get("versions") or "{}")
        except ValueError:
            published = {}
        for number, version in sorted(published.items()):
            if version not in known:
                yield seq, (f"publication {pub_id}: version {str(version)[:12]} of {number} is "
                            f"not stored (deleted)")

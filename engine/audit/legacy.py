"""Events written before migration 0009, and the seal that brings their cases under the ledger.

Migration 0009 cannot rekey the old chains: it runs inside `connect`, which holds no audit key. So
it keeps them as they are, numbers them in the global order (by time, case, sequence) and marks
the point: `audit_ledger.legacy_through`, the newest old event. Events up to it are checked under
the old formula (plain SHA-256); any event after it must be keyed, and every signed checkpoint
repeats the point, so raising it is caught.

Old events record no effects, so a case begun before 0009 has no full record of its facts to
recompute them from. The first checkpoint after the migration (the worker's sweep or `okno audit
checkpoint`) appends to each such case one keyed `seal` event, in the case's own write
transaction, holding a snapshot of its stored facts: from then on those facts are recomputed
from the seal and the events after it. What a seal cannot do is vouch for the facts before it:
rows edited before the seal are sealed as they were found (docs/engine.md).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from engine.audit.chain import EventWriter
from engine.audit.checkpoints import legacy_through
from engine.audit.facts import stored
from engine.store.tables import cases, events

SEAL = "seal"
SEALER = "system:audit"


def unsealed(limit: int):
    """Cases with no full record of their facts (a `start` with effects, or a seal)."""
    full = exists().where(events.c.case_id == cases.c.id, events.c.effects.is_not(None),
                          or_(events.c.action == "start", events.c.action == SEAL))
    return select(cases.c.id).where(~full).order_by(cases.c.id).limit(limit)


def seal_legacy_cases(db: Engine, writer: EventWriter, now: datetime, limit: int = 500) -> int:
    """Append a seal to up to `limit` cases begun before migration 0009; how many were sealed.
    Nothing to do (one indexed read) on a database created after it."""
    with db.connect() as conn:
        if legacy_through(conn) == 0:
            return 0
        ids = conn.execute(unsealed(limit)).scalars().all()
    sealed = 0
    for case_id in ids:
        with db.execution_options(okno_write=True).begin() as conn:  # BEGIN IMMEDIATE on SQLite
            facts = stored(conn, case_id)
            if facts is None:
                continue
            head = conn.execute(select(cases.c.row_version, cases.c.last_hash)
                                .where(cases.c.id == case_id)).one()
            count = conn.execute(select(func.count()).where(events.c.case_id == case_id)).scalar_one()
            version = head.row_version + 1
            event = writer.new_event(case_id, version, head.last_hash, now, SEALER, SEAL, None,
                                     {"events_before": count}, {"snapshot": facts.as_snapshot()})
            changed = conn.execute(update(cases).where(
                cases.c.id == case_id, cases.c.row_version == head.row_version
            ).values(row_version=version, last_hash=event["hash"])).rowcount
            if changed == 1:
                conn.execute(insert(events), event)
                sealed += 1
    return sealed

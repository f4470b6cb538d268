"""The external task rows a worker fetches and locks (engine.bpmn.external).

A command writes the rows with the case (engine.store.case_rows); here a worker's
fetch-and-lock, lock extension and lock check, each in one write transaction: BEGIN IMMEDIATE on
SQLite (one writer at a time), `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never lock
the same task.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, Engine

from engine.errors import Conflict, NotFound
from engine.statuses import CaseStatus
from engine.store.tables import cases, events, external_tasks

COLUMNS = ("id", "case_id", "topic", "step", "worker_id", "lock_expires_at", "retries",
           "error_message", "incident")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _write(db: Engine):
    return db.execution_options(okno_write=True).begin()


def fetch_and_lock(db: Engine, worker_id: str, topics: dict[str, int], max_tasks: int,
                   now: datetime, authority: str | None = None) -> list[dict[str, Any]]:
    """Lock up to `max_tasks` free tasks of `topics` (name -> lock duration in ms) for
    `worker_id`, oldest first: not locked or the lock expired, no incident, the case open."""
    t = external_tasks
    with _write(db) as conn:
        rows = conn.execute(select(*(t.c[c] for c in COLUMNS)).join(cases, cases.c.id == t.c.case_id)
                            .where(t.c.topic.in_(list(topics)), t.c.incident.is_(False),
                                   or_(t.c.lock_expires_at.is_(None), t.c.lock_expires_at <= now),
                                   cases.c.status == CaseStatus.OPEN.value,
                                   *([cases.c.authority == authority] if authority else []))
                            .order_by(t.c.created_at, t.c.id).limit(max_tasks)
                            .with_for_update(skip_locked=True, of=t)).mappings().all()
        locked = []
        for row in rows:
            until = now + timedelta(milliseconds=topics[row["topic"]])
            conn.execute(update(t).where(t.c.id == row["id"]).values(
                worker_id=worker_id, lock_expires_at=until))
            locked.append({**row, "worker_id": worker_id, "lock_expires_at": until})
    return locked


def held(conn: Connection, task_id: str, worker_id: str, now: datetime,
         authority: str | None = None) -> dict[str, Any]:
    """The row of `task_id` if `worker_id` holds its lock now; NotFound (also for a task of
    another authority than `authority`) or Conflict otherwise."""
    row = conn.execute(select(*(external_tasks.c[c] for c in COLUMNS), cases.c.authority)
                       .join(cases, cases.c.id == external_tasks.c.case_id)
                       .where(external_tasks.c.id == task_id)).mappings().first()
    if row is None or (authority is not None and row["authority"] != authority):
        raise NotFound(f"no external task {task_id} is waiting", field="task_id")
    if row["worker_id"] != worker_id:
        raise Conflict(f"external task {task_id} is not locked by worker {worker_id!r}",
                       field="worker_id")
    until = row["lock_expires_at"]
    if until is None or _utc(until) <= now:
        raise Conflict(f"the lock of worker {worker_id!r} on external task {task_id} has expired; "
                       f"fetch and lock it again", field="worker_id")
    return dict(row)


def incident(db: Engine, task_id: str, authority: str | None = None) -> dict[str, Any]:
    """The row of `task_id` if it is an incident (no retries left); NotFound (also for a task of
    another authority than `authority`), or Conflict if it is no incident or is done."""
    with db.connect() as conn:
        row = conn.execute(select(*(external_tasks.c[c] for c in COLUMNS), cases.c.authority)
                           .join(cases, cases.c.id == external_tasks.c.case_id)
                           .where(external_tasks.c.id == task_id)).mappings().first()
        if row is None:
            if _UUID.match(task_id) and conn.execute(select(events.c.gseq).where(
                    events.c.action == "external_complete",
                    events.c.data.contains(f'"task":"{task_id}"')).limit(1)).first() is not None:
                raise Conflict(f"external task {task_id} is done", field="task_id")
            raise NotFound(f"no external task {task_id} is waiting", field="task_id")
    if authority is not None and row["authority"] != authority:
        raise NotFound(f"no external task {task_id} is waiting", field="task_id")
    if not row["incident"]:
        raise Conflict(f"external task {task_id} is no incident: it has {row['retries']} "
                       f"retries left or has not failed", field="task_id")
    return dict(row)


def lock_holder(db: Engine, task_id: str, worker_id: str, now: datetime,
                authority: str | None = None) -> dict[str, Any]:
    """`held`, in a read of its own."""
    with db.connect() as conn:
        return held(conn, task_id, worker_id, now, authority)


def extend_lock(db: Engine, task_id: str, worker_id: str, duration_ms: int, now: datetime,
                authority: str | None = None) -> datetime:
    """The lock `worker_id` holds on `task_id` runs `duration_ms` from now."""
    with _write(db) as conn:
        held(conn, task_id, worker_id, now, authority)
        until = now + timedelta(milliseconds=duration_ms)
        conn.execute(update(external_tasks).where(external_tasks.c.id == task_id)
                     .values(lock_expires_at=until))
    return until


def of_case(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's waiting external tasks, for the case view."""
    return [dict(r) for r in conn.execute(
        select(*(external_tasks.c[c] for c in COLUMNS)).where(external_tasks.c.case_id == case_id)
        .order_by(external_tasks.c.created_at, external_tasks.c.id)).mappings()]


def _utc(value: datetime) -> datetime:
    """SQLite keeps no offset: a stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)

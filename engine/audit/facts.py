"""A case's facts (its row, task rows, documents, timers), as stored and as its events recorded them.

Each event carries its command's `effects`: exactly what the command wrote to the case's rows
(the changed columns of `cases`, the stored workflow state as its SHA-256, the tasks closed and
opened and by whom, the claim, the timers, the document statuses, a new due date of open tasks,
the authority open tasks moved to when the case was forwarded, the open task rows a move to
another version rewrote).
`replay` folds them, in the order `CaseRows.write` applies them, from the case's first event (a
`start` holds the whole row) or from a `seal` (a snapshot: see `legacy`); `differences` compares
the result with the stored rows. So `UPDATE cases SET outcome='approved'` on a refused case, an
edited status, authority, applicant or state, or a task's `closed_by` shows up as a difference,
and the effects themselves are covered by the events' keyed hashes. A closed case's state is a
stand-in for its last full state (store.closed_state), compared by the digest it keeps.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.audit.chain import plain
from engine.statuses import TaskStatus
from engine.store import closed_state
from engine.store.case_rows import CaseWrite
from engine.store.tables import case_documents, cases, tasks, timers

# Columns that are the chain itself (or the key), not facts the events record.
_NOT_FACTS = frozenset(("id", "row_version", "last_hash"))
_COMPACTED = ("state", "state_format")  # what compacting a closed case's state rewrites
_DONE, _CANCELLED, _OPEN = TaskStatus.DONE.value, TaskStatus.CANCELLED.value, TaskStatus.OPEN.value


def effects(w: CaseWrite, state_read: bytes | None = None) -> dict[str, Any]:
    """What `CaseRows.write(w)` will write, as JSON-ready data (the workflow state as its digest),
    and `before`: the values the command found in the columns it overwrites (and the digest of
    the stored state it restored, `state_read`), so a fact edited between two commands is not
    erased by the second one's write."""
    columns = {**w.row, **w.values} if w.new else w.values
    out: dict[str, Any] = {"case": {k: plain(v) for k, v in columns.items() if k not in _NOT_FACTS}}
    if not w.new:
        row = w.row
        before = {k: plain(row[k]) for k in w.values if k in row and k not in _NOT_FACTS}
        if state_read is not None:
            before["state"] = plain(state_read)
        if before:
            out["before"] = before
    if w.closed_tasks:
        out["closed"] = w.closed_tasks
    if w.opened_tasks:
        out["opened"] = [{k: plain(v) for k, v in t.items() if k != "case_id"} for t in w.opened_tasks]
    if w.assign is not None:
        out["assign"] = list(w.assign)
    if w.timers is not None:
        out["timers"] = sorted([task_id, plain(due)] for task_id, due in w.timers)
    if w.documents:
        out["documents"] = w.documents
    if w.tasks_due is not None:
        out["tasks_due"] = plain(w.tasks_due)
    if w.tasks_authority is not None:
        out["tasks_authority"] = w.tasks_authority
    if w.retask:
        out["retask"] = w.retask
    return out


@dataclass
class Facts:
    """What is known about one case's rows, every value in `plain` form."""

    case: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    timers: list[list[str]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (seq, what) found replaying
    # Stored rows only: the digest of the full state a closed case's stand-in replaces
    # (store.closed_state), when the stored state is such a stand-in.
    compacted: str | None = None

    def as_snapshot(self) -> dict[str, Any]:
        return {"case": self.case, "tasks": list(self.tasks.values()), "documents": self.documents,
                "timers": self.timers}

    @classmethod
    def of_snapshot(cls, snap: dict[str, Any]) -> Facts:
        return cls(dict(snap["case"]), {t["id"]: dict(t) for t in snap["tasks"]},
                   {d: dict(v) for d, v in snap["documents"].items()}, [list(t) for t in snap["timers"]])


def stored(conn: Connection, case_id: str) -> Facts | None:
    """The case's rows as the database holds them now; None if the case does not exist."""
    row = conn.execute(select(cases).where(cases.c.id == case_id)).one_or_none()
    if row is None:
        return None
    facts = Facts(case={str(k): plain(v) for k, v in row._mapping.items() if k not in _NOT_FACTS},
                  compacted=closed_state.replaced(row.state, row.state_format))
    for t in conn.execute(select(tasks).where(tasks.c.case_id == case_id)):
        facts.tasks[t.id] = {str(k): plain(v) for k, v in t._mapping.items() if k != "case_id"}
    for d in conn.execute(select(case_documents).where(case_documents.c.case_id == case_id)):
        facts.documents[d.document] = {"status": d.status, "updated_at": plain(d.updated_at),
                                       "actor": d.actor}
    facts.timers = sorted([t.task_id, plain(t.due_at)] for t in conn.execute(
        select(timers).where(timers.c.case_id == case_id)))
    return facts


def replay(events: Iterable[dict[str, Any]]) -> Facts | None:
    """The facts the events recorded, from the last full record on; None if there is none (a
    case begun before migration 0009 and not sealed yet)."""
    facts: Facts | None = None
    for event in events:
        if event["effects"] is None:  # an event from before migration 0009 records no effects
            continue
        eff = orjson.loads(event["effects"])
        if "snapshot" in eff:
            facts = Facts.of_snapshot(eff["snapshot"])
            continue
        if event["action"] == "start":
            facts = Facts()
        if facts is not None:
            for key, found in eff.get("before", {}).items():
                if key in facts.case and facts.case[key] != found:
                    facts.problems.append((event["seq"], (
                        f"ran on a case whose {_column(key)} was {found!r}, while its events "
                        f"say {facts.case[key]!r} (changed between two commands)")))
            _apply(facts, eff, plain(event["at"]), event["actor"])
    return facts


def _apply(facts: Facts, eff: dict[str, Any], at: str, actor: str) -> None:
    """One event's effects, in the order `CaseRows.write` writes them."""
    facts.case.update(eff.get("case", {}))
    for task_id, done in eff.get("closed", {}).items():
        task = facts.tasks.get(task_id)
        if task is not None:  # an UPDATE by id: a task that is not there stays not there
            task.update(state=_DONE if done else _CANCELLED, closed_at=at,
                        closed_by=actor if done else None)
    for task in eff.get("opened", ()):
        facts.tasks[task["id"]] = dict(task)
    if "assign" in eff:
        task_id, assignee = eff["assign"]
        if task_id in facts.tasks:
            facts.tasks[task_id]["assignee"] = assignee
    if "timers" in eff:
        facts.timers = [list(t) for t in eff["timers"]]
    for document, status in eff.get("documents", {}).items():
        facts.documents[document] = {"status": status, "updated_at": at, "actor": actor}
    if "tasks_due" in eff:
        for task in facts.tasks.values():
            if task["state"] == _OPEN:
                task["due_date"] = eff["tasks_due"]
    if "tasks_authority" in eff:  # forwarded: open tasks move to the competent authority, unclaimed
        for task in facts.tasks.values():
            if task["state"] == _OPEN:
                task.update(authority=eff["tasks_authority"], assignee=None)
    for task_id, columns in eff.get("retask", {}).items():  # moved to another version
        if task_id in facts.tasks:
            facts.tasks[task_id].update(columns)


def differences(recorded: Facts, actual: Facts) -> Iterator[str]:
    """Each way the stored rows differ from what the events recorded, in words.

    A closed case compacted after its last event (migration 0015) holds a stand-in for the state
    its events recorded: that is no difference, as long as the stand-in replaces exactly it."""
    stands_in = actual.compacted is not None and recorded.case.get("state") == actual.compacted
    for key, value in recorded.case.items():
        if stands_in and key in _COMPACTED:
            continue
        if key in actual.case and actual.case[key] != value:
            yield f"{_column(key)} is {actual.case[key]!r} in the database, {value!r} by its events"
    for task_id in recorded.tasks.keys() - actual.tasks.keys():
        yield f"task {task_id} ({recorded.tasks[task_id]['step']}) is missing"
    for task_id in actual.tasks.keys() - recorded.tasks.keys():
        yield f"task {task_id} ({actual.tasks[task_id]['step']}) is not in its events"
    for task_id in sorted(recorded.tasks.keys() & actual.tasks.keys()):
        mine, theirs = recorded.tasks[task_id], actual.tasks[task_id]
        for key, value in mine.items():
            if key in theirs and theirs[key] != value:
                yield (f"task {task_id} ({mine['step']}): {key} is {theirs[key]!r} in the "
                       f"database, {value!r} by its events")
    for document in sorted(recorded.documents.keys() | actual.documents.keys()):
        mine, theirs = recorded.documents.get(document), actual.documents.get(document)
        if mine != theirs:
            yield f"document {document} is {theirs!r} in the database, {mine!r} by its events"
    if recorded.timers != actual.timers:
        yield f"timers are {actual.timers!r} in the database, {recorded.timers!r} by its events"


def _column(key: str) -> str:
    return "stored workflow state (SHA-256)" if key == "state" else key

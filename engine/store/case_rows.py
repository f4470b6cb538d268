"""The rows of one case: what a command reads first, and everything it writes in one transaction.

A command reads the case row outside any write transaction, then writes the new state, the task
rows clerks query, the timers, the documents and the audit event together with
`UPDATE cases … WHERE id = ? AND row_version = ?`. When no row changed, another command got there
first: Conflict, and nothing is written (see docs/engine.md for the measurements).

The statements are compiled once per database (`fast_path.Prepared`) and run on the DBAPI cursor:
SQLAlchemy's per-statement machinery cost more than SQLite itself. A command that must write
something else in the same transaction (a keyed command's stored answer, engine.idempotency)
writes its rows on the cursor of `transaction()`, next to a Core connection of the same session.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from engine.errors import Conflict
from engine.statuses import CaseStatus, DocumentStatus, TaskStatus
from engine.store.fast_path import for_engine
from engine.store.tables import (
    case_documents,
    cases,
    events,
    external_tasks,
    notices,
    outbox,
    reg_counters,
    tasks,
    timers,
)

REG_NUMBER = "{authority}-{year:04d}-{n:06d}"  # docs/appeals.md: one sequence per authority and year


def _p(name: str, column) -> Any:
    return bindparam(name, type_=column.type)


# The case row without its workflow state: a command usually finds the workflow in the live
# cache, and the state (kilobytes) is read only when it does not.
_ROW = tuple(c for c in cases.columns if c.key not in ("state", "state_format", "spiff_version"))

_STATEMENTS = {
    "case": (select(*_ROW, select(tasks.c.assignee).where(
        tasks.c.id == _p("task_id", tasks.c.id), tasks.c.case_id == cases.c.id
    ).scalar_subquery().label("assignee")).where(cases.c.id == _p("case_id", cases.c.id)),
        (*_ROW, tasks.c.assignee)),
    "state": (select(cases.c.state, cases.c.state_format, cases.c.spiff_version).where(
        cases.c.id == _p("case_id", cases.c.id), cases.c.row_version == _p("row_version", cases.c.row_version)),
        (cases.c.state, cases.c.state_format, cases.c.spiff_version)),
    "assignee": (select(tasks.c.assignee).where(tasks.c.id == _p("task_id", tasks.c.id)),
                 (tasks.c.assignee,)),
    "pending": (select(case_documents.c.document).where(
        case_documents.c.case_id == _p("case_id", case_documents.c.case_id),
        case_documents.c.status == DocumentStatus.REQUESTED.value,
        case_documents.c.document != _p("exclude", case_documents.c.document)).limit(1),
        (case_documents.c.document,)),
    "insert_case": insert(cases),
    # Every column but `gseq`: the database numbers the event in the log's global order.
    "insert_event": insert(events).values({c.key: _p(c.key, c) for c in events.columns if c.key != "gseq"}),
    "close_task": update(tasks).where(tasks.c.id == _p("_task", tasks.c.id)).values(
        state=_p("state", tasks.c.state), closed_at=_p("closed_at", tasks.c.closed_at),
        closed_by=_p("closed_by", tasks.c.closed_by)),
    "insert_task": insert(tasks),
    "assign_task": update(tasks).where(
        tasks.c.id == _p("_task", tasks.c.id), tasks.c.case_id == _p("_case", tasks.c.case_id)
    ).values(assignee=_p("assignee", tasks.c.assignee)),
    "task_due": update(tasks).where(
        tasks.c.case_id == _p("_case", tasks.c.case_id), tasks.c.state == TaskStatus.OPEN.value
    ).values(due_date=_p("due_date", tasks.c.due_date)),
    "delete_timers": delete(timers).where(timers.c.case_id == _p("_case", timers.c.case_id)),
    "insert_timer": insert(timers),
    "update_document": update(case_documents).where(
        case_documents.c.case_id == _p("_case", case_documents.c.case_id),
        case_documents.c.document == _p("_document", case_documents.c.document),
    ).values(status=_p("status", case_documents.c.status),
             updated_at=_p("updated_at", case_documents.c.updated_at),
             actor=_p("actor", case_documents.c.actor)),
    "insert_document": insert(case_documents),
    "documents": (select(case_documents.c.document, case_documents.c.status).where(
        case_documents.c.case_id == _p("case_id", case_documents.c.case_id)),
        (case_documents.c.document, case_documents.c.status)),
    "move_tasks": update(tasks).where(
        tasks.c.case_id == _p("_case", tasks.c.case_id), tasks.c.state == TaskStatus.OPEN.value
    ).values(authority=_p("authority", tasks.c.authority), assignee=_p("assignee", tasks.c.assignee)),
    "retask": update(tasks).where(
        tasks.c.id == _p("_task", tasks.c.id), tasks.c.case_id == _p("_case", tasks.c.case_id)
    ).values(kind=_p("kind", tasks.c.kind), title=_p("title", tasks.c.title),
             role=_p("role", tasks.c.role), acts_as=_p("acts_as", tasks.c.acts_as)),
    "insert_external": insert(external_tasks),
    "delete_external": delete(external_tasks).where(
        external_tasks.c.id == _p("_task", external_tasks.c.id),
        external_tasks.c.case_id == _p("_case", external_tasks.c.case_id)),
    "insert_notice": insert(notices),
    "insert_outbox": insert(outbox),
}


# What the scheduler claims before it works on a case (engine.runtime.scheduler): the case's row,
# and its due timers, while they are still what makes the work due. `FOR UPDATE SKIP LOCKED` on
# PostgreSQL (a row another worker holds is skipped; a timer another worker fired and deleted is
# gone when the lock is taken); nothing on SQLite, which has one writer at a time.
_CLAIMS = {
    "timers": select(cases.c.id).join(timers, timers.c.case_id == cases.c.id).where(
        cases.c.id == _p("case_id", cases.c.id), cases.c.status == CaseStatus.OPEN.value,
        timers.c.due_at < _p("now", timers.c.due_at)).with_for_update(skip_locked=True),
    "overdue": select(cases.c.id).where(
        cases.c.id == _p("case_id", cases.c.id), cases.c.status == CaseStatus.OPEN.value,
        cases.c.overdue.is_(False), cases.c.due_date < _p("today", cases.c.due_date),
    ).with_for_update(skip_locked=True),
}


@dataclass
class CaseWrite:
    """Everything one command writes about one case, in one transaction."""

    row: dict[str, Any]  # the case row as read (or, for a new case, as it is inserted)
    values: dict[str, Any]  # the columns of `cases` that change, row_version and last_hash included
    event: dict[str, Any]  # the audit event row (made from the rest: `audit.facts.effects`)
    new: bool = False
    at: datetime | None = None
    actor: str = ""
    closed_tasks: dict[str, bool] = field(default_factory=dict)  # task id -> done (else cancelled)
    opened_tasks: list[dict[str, Any]] = field(default_factory=list)  # task rows
    assign: tuple[str, str | None] | None = None  # (task id, assignee or None)
    timers: list[tuple[str, datetime]] | None = None  # the case's waiting timers, when they changed
    documents: dict[str, str] = field(default_factory=dict)  # document id -> status
    tasks_due: date | None = None  # a new due date for the case's open tasks
    notices: list[Any] = field(default_factory=list)  # engine.notices.drafts.NoticeDraft
    register: tuple[str, int] | None = None  # (authority, year): give the new case its reg number
    tasks_authority: str | None = None  # the case's open tasks move to this authority (unclaimed)
    retask: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> kind, title, role, acts_as
    external_opened: list[dict[str, Any]] = field(default_factory=list)  # external_tasks rows
    external_closed: list[str] = field(default_factory=list)  # external task ids no longer waiting
    external_update: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> columns


def _next_number(dialect: str):
    """The upsert that gives the next number of (authority, year), race-free in one statement: a
    second transaction waits on the first one's row lock (PostgreSQL) or cannot begin its write
    at all (SQLite, BEGIN IMMEDIATE)."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(reg_counters).values(
        authority=_p("authority", reg_counters.c.authority), year=_p("year", reg_counters.c.year),
        last=1)
    return stmt.on_conflict_do_update(
        index_elements=[reg_counters.c.authority, reg_counters.c.year],
        set_={"last": reg_counters.c.last + 1}).returning(reg_counters.c.last)


class CaseRows:
    """Reads and writes of a case's rows on the fast path."""

    def __init__(self, db: Engine) -> None:
        self.raw = for_engine(db)
        self.sql = {name: self.raw.prepare(*(stmt if isinstance(stmt, tuple) else (stmt,)))
                    for name, stmt in _STATEMENTS.items()}
        self.claims = {name: self.raw.prepare(stmt) for name, stmt in _CLAIMS.items()}
        self.sql["next_number"] = self.raw.prepare(_next_number(db.dialect.name),
                                                   (reg_counters.c.last,))

    def hold(self):
        """One pooled connection for the blocks of one command (its reads, then its write)."""
        return self.raw.hold()

    def claim(self, work: str, case_id: str, now: datetime, today: date):
        """Within `hold()`: claim `case_id` for the scheduler's `work` ("timers": its timers due
        by `now`; "overdue": its due date passed by `today`); yields whether it is still due and
        not held by another worker. On PostgreSQL the block's reads and write run in the claim's
        transaction (`fast_path.RawTransactions.claimed`)."""
        return self.raw.claimed(self.claims[work], {"case_id": case_id, "now": now, "today": today})

    def read(self, case_id: str, task_id: str | None) -> dict[str, Any] | None:
        """The case row without its state, plus `assignee`: who holds `task_id` (if it is this case's)."""
        with self.raw.read() as cursor:
            return self.sql["case"].one(cursor, {"case_id": case_id, "task_id": task_id})

    def state(self, case_id: str, row_version: int) -> dict[str, Any] | None:
        """The stored workflow state with its format and SpiffWorkflow serializer version; None
        if the case is no longer at `row_version`."""
        with self.raw.read() as cursor:
            return self.sql["state"].one(cursor, {"case_id": case_id, "row_version": row_version})

    def assignee(self, task_id: str) -> str | None:
        with self.raw.read() as cursor:
            found = self.sql["assignee"].one(cursor, {"task_id": task_id})
        return found["assignee"] if found else None

    def documents_pending(self, case_id: str, exclude: str) -> bool:
        """Whether a requested document other than `exclude` has not arrived yet."""
        with self.raw.read() as cursor:
            return self.sql["pending"].one(cursor, {"case_id": case_id, "exclude": exclude}) is not None

    def documents(self, case_id: str) -> dict[str, str]:
        """The case's recorded documents: id -> status."""
        with self.raw.read() as cursor:
            return {r["document"]: r["status"] for r in self.sql["documents"].all(cursor, {"case_id": case_id})}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[tuple[Connection, Any]]:
        """One write transaction for `write`s and Core statements alongside them (a keyed
        command stores its answer with its rows): a Core connection and a raw cursor on the same
        database connection; commits when the block ends, rolls back if it raises."""
        with self.raw.engine.connect().execution_options(okno_write=True) as conn, conn.begin():
            cursor = conn.connection.cursor()
            try:
                yield conn, cursor
            finally:
                cursor.close()

    def write(self, w: CaseWrite, seal: Callable[[CaseWrite], None] | None = None,
              cursor: Any = None) -> None:
        """Write one command's changes, in a transaction of their own or on `cursor`'s (from
        `transaction`); Conflict (and nothing written) if the case moved on.

        A new case with `register` gets its registration number first, in this transaction
        (`values["reg_number"]`); then `seal(w)` completes the write from it (the notices that
        quote the number, the audit event that records it) before anything is written."""
        if cursor is not None:
            self._write(cursor, w, seal)
            return
        with self.raw.write() as cur:
            self._write(cur, w, seal)

    def _write(self, cur: Any, w: CaseWrite, seal: Callable[[CaseWrite], None] | None) -> None:
        sql, row, values = self.sql, w.row, w.values
        case_id = row["id"]
        if w.new and w.register is not None:
            authority, year = w.register
            n = sql["next_number"].one(cur, {"authority": authority, "year": year})["last"]
            values["reg_number"] = REG_NUMBER.format(authority=authority, year=year, n=n)
        if seal is not None:
            seal(w)
        if w.new:
            sql["insert_case"].run(cur, {**row, **values})
        elif self._update_case(tuple(sorted(values))).run(
                cur, {**values, "_id": case_id, "_expected": row["row_version"]}) != 1:
            raise Conflict("the case was changed by another command; reload and retry")
        sql["insert_event"].run(cur, w.event)
        for task_id, done in w.closed_tasks.items():
            sql["close_task"].run(cur, {"_task": task_id,
                                        "state": TaskStatus.DONE if done else TaskStatus.CANCELLED,
                                        "closed_at": w.at, "closed_by": w.actor if done else None})
        if w.opened_tasks:
            sql["insert_task"].run_many(cur, w.opened_tasks)
        if w.assign is not None:
            sql["assign_task"].run(cur, {"_task": w.assign[0], "_case": case_id, "assignee": w.assign[1]})
        if w.timers is not None:
            if not w.new:
                sql["delete_timers"].run(cur, {"_case": case_id})
            if w.timers:
                sql["insert_timer"].run_many(cur, [{"case_id": case_id, "task_id": k, "due_at": v}
                                                   for k, v in w.timers])
        for document, status in w.documents.items():
            doc = {"status": status, "updated_at": w.at, "actor": w.actor}
            if sql["update_document"].run(cur, {**doc, "_case": case_id, "_document": document}) == 0:
                sql["insert_document"].run(cur, {**doc, "case_id": case_id, "document": document})
        if w.tasks_due is not None:
            sql["task_due"].run(cur, {"_case": case_id, "due_date": w.tasks_due})
        if w.tasks_authority is not None:
            sql["move_tasks"].run(cur, {"_case": case_id, "authority": w.tasks_authority,
                                        "assignee": None})
        for task_id, columns in w.retask.items():
            sql["retask"].run(cur, {**columns, "_task": task_id, "_case": case_id})
        for task_id in w.external_closed:
            sql["delete_external"].run(cur, {"_task": task_id, "_case": case_id})
        if w.external_opened:
            sql["insert_external"].run_many(cur, w.external_opened)
        for task_id, columns in w.external_update.items():
            self._update_external(tuple(sorted(columns))).run(
                cur, {**columns, "_task": task_id, "_case": case_id})
        for notice in w.notices:
            sql["insert_notice"].run(cur, {
                "id": notice.id, "case_id": case_id, "kind": notice.kind, "title": notice.title,
                "body": notice.body, "recipient": notice.recipient, "created_at": w.at,
                "due_by": notice.due_by})
            if notice.recipient:
                sql["insert_outbox"].run(cur, {
                    "notice_id": notice.id, "address": notice.recipient, "status": "pending",
                    "attempts": 0, "next_attempt_at": w.at, "last_error": None,
                    "sent_at": None, "message_id": None, "claim": None})

    def _update_external(self, columns: tuple[str, ...]):
        """UPDATE of these columns of one external task row of the case."""
        key = "update_external:" + ",".join(columns)
        statement = self.sql.get(key)
        if statement is None:
            statement = self.sql[key] = self.raw.prepare(update(external_tasks).where(
                external_tasks.c.id == _p("_task", external_tasks.c.id),
                external_tasks.c.case_id == _p("_case", external_tasks.c.case_id),
            ).values({c: _p(c, external_tasks.c[c]) for c in columns}))
        return statement

    def _update_case(self, columns: tuple[str, ...]):
        """UPDATE of exactly these columns (unchanged indexed columns cost index writes)."""
        key = "update_case:" + ",".join(columns)
        statement = self.sql.get(key)
        if statement is None:
            statement = self.sql[key] = self.raw.prepare(update(cases).where(
                cases.c.id == _p("_id", cases.c.id),
                cases.c.row_version == _p("_expected", cases.c.row_version),
            ).values({c: _p(c, cases.c[c]) for c in columns}))
        return statement

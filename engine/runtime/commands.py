"""Use cases: every command on a case, each one transaction with one audit event.

A command reads the case outside any write transaction, restores its workflow (from a small
in-process cache when the stored row version matches), runs the step, then writes the new state,
the task rows clerks query, the timers, the documents and the audit event together with
`UPDATE cases … WHERE id = ? AND row_version = ?`. When no row changed, another command got there
first: the caller gets Conflict and nothing is written (see docs/engine.md for the measurements).
"""
from __future__ import annotations

import logging
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from engine import audit
from engine.bpmn.specs import load_spec, new_workflow
from engine.bpmn.specs import step_kind as drawn_step_kind
from engine.bpmn.timer_clock import clock, timer_due_times
from engine.bpmn.xml import BpmnError
from engine.clock import SystemClock
from engine.definition.procedure import BUILTIN_NAMES, Procedure
from engine.definition.validation import RESERVED_FIELD_IDS
from engine.errors import Conflict, Forbidden, InvalidInput, NotAllowed, NotFound, OknoError
from engine.expressions import ExpressionError
from engine.runtime.forms import MAX_INTEGER, check_text, clean_form
from engine.store import workflow_state
from engine.store.fast_path import RawTransactions
from engine.store.tables import case_documents, cases, events, tasks, timers
from engine.store.versions import Versions
from engine.terms import WorkCalendar, default_calendar, due_date, extend_due, shift_by_pause

log = logging.getLogger("okno.cases")

OPEN, SUSPENDED, COMPLETED, WITHDRAWN, NOT_ACCEPTED, CLOSED = (
    "open", "suspended", "completed", "withdrawn", "not_accepted", "closed")
ACTIVE = (OPEN, SUSPENDED)
DOCUMENT_STATUSES = ("presented", "requested", "received")
LEGAL_22 = ("Directive No. 2, §2.2: demanding documents that the procedure does not list is a "
            "gross violation")


# The statements every command runs. They are compiled once per database (store.Prepared) and
# run on the DBAPI cursor: SQLAlchemy's per-statement machinery cost more than SQLite itself.
def _p(name: str, column) -> Any:
    return bindparam(name, type_=column.type)


# The case row without its workflow state: a command usually finds the workflow in the live
# cache, and the state (kilobytes) is read only when it does not.
_ROW = tuple(c for c in cases.columns if c.key != "state")

_STATEMENTS = {
    "case": (select(*_ROW, select(tasks.c.assignee).where(
        tasks.c.id == _p("task_id", tasks.c.id), tasks.c.case_id == cases.c.id
    ).scalar_subquery().label("assignee")).where(cases.c.id == _p("case_id", cases.c.id)),
        (*_ROW, tasks.c.assignee)),
    "state": (select(cases.c.state).where(cases.c.id == _p("case_id", cases.c.id),
                                          cases.c.row_version == _p("row_version", cases.c.row_version)),
              (cases.c.state,)),
    "assignee": (select(tasks.c.assignee).where(tasks.c.id == _p("task_id", tasks.c.id)),
                 (tasks.c.assignee,)),
    "insert_case": insert(cases),
    "insert_event": insert(events),
    "close_task": update(tasks).where(tasks.c.id == _p("_task", tasks.c.id)).values(
        state=_p("state", tasks.c.state), closed_at=_p("closed_at", tasks.c.closed_at),
        closed_by=_p("closed_by", tasks.c.closed_by)),
    "insert_task": insert(tasks),
    "assign_task": update(tasks).where(
        tasks.c.id == _p("_task", tasks.c.id), tasks.c.case_id == _p("_case", tasks.c.case_id)
    ).values(assignee=_p("assignee", tasks.c.assignee)),
    "task_due": update(tasks).where(
        tasks.c.case_id == _p("_case", tasks.c.case_id), tasks.c.state == "open"
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
}


class Opened(NamedTuple):
    """A human task a command opened."""

    id: str
    step: str


@dataclass
class _Command:
    """What a running command sees and what it decides to write."""

    row: dict[str, Any]
    procedure: Procedure
    workflow: BpmnWorkflow
    actor: str
    now: datetime
    today: date
    changes: dict[str, Any] = field(default_factory=dict)
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    done_task: str | None = None
    assign: tuple[str, str | None] | None = None
    workflow_changed: bool = True
    assignee: str | None = None  # who holds the task the command names, from the tasks table
    timers_before: list = field(default_factory=list)
    noop: bool = False  # the command changes nothing: no write, no audit event


class Cases:
    """The case engine: start cases and run commands on them, persisted and audited."""

    def __init__(self, db: Engine, versions: Versions, clock: SystemClock | None = None,
                 calendar: WorkCalendar | None = None, cache_size: int = 2048) -> None:
        self.db = db
        self.raw = RawTransactions(db)
        self.sql = {name: self.raw.prepare(*(stmt if isinstance(stmt, tuple) else (stmt,)))
                    for name, stmt in _STATEMENTS.items()}
        self.versions = versions
        self.clock = clock or versions.clock
        self.calendar = calendar or default_calendar()
        self._live: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._live_lock = threading.Lock()
        self._cache_size = cache_size

    # ---------------------------------------------------------------- start

    def start(self, number: str, *, applicant: str, channel: str, authority: str, actor: str,
              category: str | None = None, exempt: bool = False,
              applicant_user: str | None = None) -> str:
        """Register an application: a new case on the newest version of the procedure.

        `applicant_user` is the applicant's okno account, if any: it lets them follow the case.
        """
        proc = self.versions.current(number)
        if channel not in proc.channels:
            raise InvalidInput(f"channel {channel!r} is not offered for {number}; offered: "
                               f"{list(proc.channels)}", field="channel")
        for name, value in (("applicant", applicant), ("authority", authority)):
            if not isinstance(value, str) or not value.strip() or len(value) > 128:
                raise InvalidInput(f"{name} must be 1 to 128 characters", field=name)
        if proc.fee.kind == "by_category":
            ids = [c.id for c in proc.fee.categories]
            if category not in ids:
                raise InvalidInput(f"category must be one of {ids}", field="category")
        elif category is not None:
            raise InvalidInput(f"procedure {number} has no fee categories", field="category")
        if exempt and not proc.fee.exemptions and proc.fee.kind != "free":
            raise InvalidInput("this procedure's fee has no exemptions", field="exempt")
        now, today = self._now(), self.clock.today()
        try:
            # Every form field starts as None, so a condition on a field not filled in (optional,
            # or of a skipped step) reads None instead of failing on an unknown name.
            fields = {f.id: None for step in proc.steps for f in step.fields}
            workflow = new_workflow(proc, {**fields, "channel": channel, "category": category,
                                                "exempt": bool(exempt), "documents_requested": False})
        except BpmnError as exc:
            raise NotAllowed(f"procedure {number} version {proc.version[:12]} cannot run: {exc}") from None
        workflow.script_engine = workflow_state.script_engine()
        case_id = str(uuid.uuid4())
        row = {
            "id": case_id, "number": proc.number, "version": proc.version, "status": OPEN,
            "outcome": None, "ground": None, "applicant": applicant,
            "applicant_user": applicant_user, "channel": channel,
            "authority": authority, "category": category, "exempt": bool(exempt),
            "fee": proc.fee.amount(category, exempt), "started_at": now, "start_date": today,
            "due_date": due_date(today, proc.term.max, self.calendar),
            "documents_requested": False, "suspended_on": None, "paused_days": 0, "overdue": False,
            "closed_at": None, "row_version": 0, "last_hash": audit.GENESIS,
        }
        cmd = _Command(row, proc, workflow, actor, now, today)
        self._engine_steps(cmd)
        cmd.data = {"number": proc.number, "version": proc.version, "applicant": applicant,
                    "applicant_user": applicant_user, "channel": channel, "authority": authority, "category": category,
                    "exempt": bool(exempt)}
        self._write(cmd, "start", {}, self._ready(workflow), new=True)
        self._put(case_id, cmd.row["row_version"], workflow)  # the first task usually follows soon
        return case_id

    # ---------------------------------------------------------------- tasks

    def complete_task(self, case_id: str, task_id: str, data: dict[str, Any] | None, *,
                      actor: str, expected_version: int | None = None) -> list[Opened]:
        """Complete a human task with form data validated against its step's fields.

        Returns the tasks that opened as a result, so callers need not query for them.
        """
        def run(cmd: _Command) -> None:
            task = self._ready_task(cmd, task_id)
            self._complete(cmd, task, data or {})
        return self._run(case_id, actor, "complete", run, expected_version=expected_version,
                         task_id=task_id)

    def claim(self, case_id: str, task_id: str, *, actor: str) -> None:
        """Take a task into one's own work list; a task claimed by someone else stays theirs."""
        def run(cmd: _Command) -> None:
            task = self._ready_task(cmd, task_id)
            cmd.noop = cmd.assignee == actor  # claimed already: nothing to write or audit
            cmd.assign = (str(task.id), actor)
            cmd.step, cmd.workflow_changed = task.task_spec.name, False
        self._run(case_id, actor, "claim", run, task_id=task_id)

    def unclaim(self, case_id: str, task_id: str, *, actor: str, force: bool = False) -> None:
        """Give a task back to the shared work list (a supervisor may force it)."""
        def run(cmd: _Command) -> None:
            task = self._ready_task(cmd, task_id, allow_foreign=force)
            cmd.noop = cmd.assignee is None  # nobody holds it: nothing to write or audit
            cmd.assign = (str(task.id), None)
            cmd.step, cmd.workflow_changed = task.task_spec.name, False
        self._run(case_id, actor, "unclaim", run, task_id=task_id)

    def decide(self, case_id: str, outcome: str, *, actor: str, ground: str | None = None,
               data: dict[str, Any] | None = None, task_id: str | None = None) -> list[Opened]:
        """Complete the ready decision task: approve, or refuse naming a legal ground.

        `task_id` names the task when the caller has checked it already (its claim holds either way).
        """
        def run(cmd: _Command) -> None:
            task = self._ready_task_of_kind(cmd, "decision", task_id)
            try:
                self._complete(cmd, task, {**(data or {}), "outcome": outcome, "ground": ground})
            except InvalidInput as exc:  # outcome and ground are arguments here, not form fields
                if exc.field in ("data.outcome", "data.ground"):
                    exc.field = exc.field.removeprefix("data.")
                raise
        return self._run(case_id, actor, "complete", run, task_id=task_id)

    def issue_result(self, case_id: str, *, actor: str, data: dict[str, Any] | None = None,
                     task_id: str | None = None) -> list[Opened]:
        """Complete the ready issue task: the result is handed over."""
        def run(cmd: _Command) -> None:
            task = self._ready_task_of_kind(cmd, "issue", task_id)
            self._complete(cmd, task, data or {})
        return self._run(case_id, actor, "complete", run, task_id=task_id)

    # ---------------------------------------------------------------- documents

    def record_document(self, case_id: str, document: str, status: str, *, actor: str) -> None:
        """Mark a listed document presented, requested from another body, or received."""
        if status not in DOCUMENT_STATUSES:
            raise InvalidInput(f"status must be one of {list(DOCUMENT_STATUSES)}", field="status")

        def run(cmd: _Command) -> None:
            proc = cmd.procedure
            if document not in proc.document_ids():
                raise NotAllowed(f"document {document!r} is not listed for procedure "
                                 f"{proc.number}. {LEGAL_22}.", field="document")
            requested_ids = {d.id for d in proc.requested_documents}
            if status == "requested" and document not in requested_ids:
                raise NotAllowed(f"document {document!r} is presented by the citizen; only the "
                                 f"documents the authority obtains itself can be requested",
                                 field="document")
            self._require_active(cmd)
            cmd.documents[document] = status
            cmd.data = {"document": document, "status": status}
            cmd.workflow_changed = False
            if status == "requested" and not cmd.row["documents_requested"]:
                cmd.changes["documents_requested"] = True
                if proc.term.when_documents_requested:
                    base = extend_due(cmd.row["start_date"], proc.term.max,
                                      proc.term.when_documents_requested, self.calendar)
                    cmd.changes["due_date"] = self._after_pauses(base, cmd.row["paused_days"])
                for task in cmd.workflow.get_tasks(state=TaskState.READY):
                    task.data["documents_requested"] = True
                cmd.workflow_changed = True
            if (status == "received" and document in requested_ids
                    and proc.term.counted_from == "documents_received"
                    and not self._documents_pending(cmd.row["id"], exclude=document)):
                # The term counts from the day the last requested document arrived.
                term = proc.term.when_documents_requested or proc.term.max
                cmd.changes.update(due_date=due_date(cmd.today, term, self.calendar), paused_days=0)
                cmd.data["term_starts"] = cmd.today.isoformat()
        self._run(case_id, actor, "document", run)

    # ---------------------------------------------------------------- case lifecycle

    def withdraw(self, case_id: str, *, actor: str, reason: str | None = None) -> None:
        """The applicant withdraws the application: allowed at any time before the procedure ends."""
        def run(cmd: _Command) -> None:
            self._require_active(cmd)
            cmd.workflow.cancel()
            cmd.changes.update(status=WITHDRAWN, closed_at=cmd.now)
            cmd.data = {"reason": reason}
        self._run(case_id, actor, "withdraw", run)

    def refuse_acceptance(self, case_id: str, ground: str, *, actor: str) -> None:
        """Refuse to accept the application, on a ground of Law No. 433-З, before intake is done."""
        def run(cmd: _Command) -> None:
            self._require_active(cmd)
            if any(t.task_spec.manual for t in cmd.workflow.get_tasks(state=TaskState.COMPLETED)):
                raise NotAllowed("the application was accepted already; refuse it by a decision")
            try:
                g = cmd.procedure.ground(ground, acceptance=True)
            except KeyError:
                ids = [g.id for g in cmd.procedure.acceptance_refusal_grounds]
                raise InvalidInput(f"ground must be one of {ids}", field="ground") from None
            cmd.workflow.cancel()
            cmd.changes.update(status=NOT_ACCEPTED, ground=g.id, closed_at=cmd.now)
            cmd.data = {"ground": g.id, "title": g.title}
        self._run(case_id, actor, "refuse_acceptance", run)

    def suspend(self, case_id: str, ground: str, *, actor: str) -> None:
        """Suspend where the definition allows it; the term stops running until resumed."""
        def run(cmd: _Command) -> None:
            proc = cmd.procedure
            if not proc.suspension_allowed:
                raise NotAllowed(f"procedure {proc.number} does not allow suspension")
            if cmd.row["status"] != OPEN:
                raise NotAllowed(f"only an open case can be suspended; this one is {cmd.row['status']}")
            ids = [g.id for g in proc.suspension_grounds]
            if ids and ground not in ids:
                raise InvalidInput(f"ground must be one of {ids}", field="ground")
            cmd.changes.update(status=SUSPENDED, suspended_on=cmd.today)
            cmd.data, cmd.workflow_changed = {"ground": ground}, False
        self._run(case_id, actor, "suspend", run)

    def resume(self, case_id: str, *, actor: str) -> None:
        """Resume a suspended case; its due date moves by the days it was suspended."""
        def run(cmd: _Command) -> None:
            if cmd.row["status"] != SUSPENDED:
                raise NotAllowed("the case is not suspended")
            due = shift_by_pause(cmd.row["due_date"], cmd.row["suspended_on"], cmd.today, self.calendar)
            paused = (cmd.today - cmd.row["suspended_on"]).days
            cmd.changes.update(status=OPEN, suspended_on=None, due_date=due, overdue=due < cmd.today,
                               paused_days=cmd.row["paused_days"] + paused)
            cmd.data = {"due_date": due.isoformat()}
            cmd.workflow_changed = False
        self._run(case_id, actor, "resume", run)

    def close(self, case_id: str, *, actor: str) -> None:
        """Archive a case that has ended (completed, withdrawn or not accepted)."""
        def run(cmd: _Command) -> None:
            if cmd.row["status"] not in (COMPLETED, WITHDRAWN, NOT_ACCEPTED):
                raise NotAllowed(f"only an ended case can be closed; this one is {cmd.row['status']}")
            cmd.changes.update(status=CLOSED, closed_at=cmd.row["closed_at"] or cmd.now)
            cmd.workflow_changed = False
        self._run(case_id, actor, "close", run)

    # ---------------------------------------------------------------- scheduler

    def fire_due_timers(self, *, actor: str = "system:worker", limit: int = 500) -> int:
        """Fire the timers due by the clock, found through the timers index; returns the cases
        in which timers fired. A case that fails is logged and skipped: it never holds up others.
        Timers of a suspended case wait until it is resumed."""
        now = self._now()
        with self.db.connect() as conn:
            due = conn.execute(select(timers.c.case_id).where(timers.c.due_at < now)
                               .group_by(timers.c.case_id).order_by(func.min(timers.c.due_at))
                               .limit(limit)).scalars().all()
        fired = 0
        for case_id in due:
            def run(cmd: _Command) -> None:
                if cmd.row["status"] != OPEN:
                    raise NotAllowed(f"the case is {cmd.row['status']}: its timers wait")
                waiting = {task_id for task_id, _ in cmd.timers_before}
                try:
                    with clock(cmd.now):
                        cmd.workflow.refresh_timers()
                except (WorkflowException, ExpressionError) as exc:
                    raise NotAllowed(f"the timer could not fire: {exc}") from None
                self._engine_steps(cmd)
                gone = sorted(waiting - {task_id for task_id, _ in timer_due_times(cmd.workflow)})
                if not gone:
                    raise NotAllowed("no timer was due")  # nothing happened: nothing is written
                cmd.step = ",".join(sorted({cmd.workflow.get_task_from_id(uuid.UUID(t)).task_spec.name
                                            for t in gone}))
                cmd.data = {"timers": gone}
            try:
                self._run(case_id, actor, "timer", run)
                fired += 1
            except Conflict:
                continue  # a clerk's command won; the timer is still due and fires next round
            except OknoError as exc:
                log.warning("timers of case %s did not fire: %s", case_id, exc.detail)
        return fired

    def mark_overdue(self, *, actor: str = "system:worker", limit: int = 1000) -> int:
        """Mark open cases whose due date has passed; found through the (status, overdue, due) index."""
        today = self.clock.today()
        with self.db.connect() as conn:
            ids = conn.execute(select(cases.c.id).where(
                cases.c.status == OPEN, cases.c.overdue.is_(False), cases.c.due_date < today,
            ).limit(limit)).scalars().all()
        marked = 0
        for case_id in ids:
            def run(cmd: _Command) -> None:
                if cmd.row["overdue"] or cmd.row["status"] != OPEN:
                    raise NotAllowed("no longer due")
                cmd.changes["overdue"] = True
                cmd.data = {"due_date": cmd.row["due_date"].isoformat()}
                cmd.workflow_changed = False
            try:
                self._run(case_id, actor, "overdue", run)
                marked += 1
            except (Conflict, NotAllowed):
                continue
        return marked

    # ---------------------------------------------------------------- internals

    def _run(self, case_id: str, actor: str, action: str, apply: Callable[[_Command], None], *,
             expected_version: int | None = None, task_id: str | None = None) -> list[Opened]:
        """Run one command; returns the human tasks it opened."""
        with self.raw.hold():  # one pooled connection for the command's reads and its write
            return self._run_held(case_id, actor, action, apply, expected_version, task_id)

    def _run_held(self, case_id: str, actor: str, action: str, apply: Callable[[_Command], None],
                  expected_version: int | None, task_id: str | None) -> list[Opened]:
        with self.raw.read() as cursor:
            row = self.sql["case"].one(cursor, {"case_id": case_id, "task_id": task_id})
        if row is None:
            raise NotFound(f"case {case_id} does not exist", field="case_id")
        assignee = row.pop("assignee")
        if expected_version is not None and row["row_version"] != expected_version:
            raise Conflict(f"case is at version {row['row_version']}, not {expected_version}")
        proc = self.versions.get(row["version"])
        workflow = self._take(row, proc)
        cmd = _Command(row, proc, workflow, actor, self._now(), self.clock.today(),
                       assignee=assignee)
        # If anything below raises, the workflow may be half-changed: it is simply not put back
        # into the live cache, and the next command restores it from the stored state.
        before = self._ready(workflow)
        if load_spec(proc).has_timers:
            cmd.timers_before = timer_due_times(workflow)
        apply(cmd)
        after = self._ready(workflow)
        if cmd.noop:
            self._put(case_id, cmd.row["row_version"], workflow)
            return []
        self._write(cmd, action, before, after)
        self._put(case_id, cmd.row["row_version"], workflow)  # _write set the new version
        return [Opened(tid, task.task_spec.name) for tid, task in after.items() if tid not in before]

    def _after_pauses(self, due: date, paused_days: int) -> date:
        """A legal due date moved by the days the case was suspended (then off a non-working day)."""
        if not paused_days:
            return due
        return self.calendar.next_working_day(due + timedelta(days=paused_days))

    def _documents_pending(self, case_id: str, exclude: str) -> bool:
        """Whether a requested document other than `exclude` has not arrived yet."""
        with self.db.connect() as conn:
            pending = conn.execute(select(case_documents.c.document).where(
                case_documents.c.case_id == case_id, case_documents.c.status == "requested",
                case_documents.c.document != exclude)).first()
        return pending is not None

    def _now(self) -> datetime:
        """The clock's time in UTC: every stored time is UTC (SQLite keeps no offset)."""
        return self.clock.now().astimezone(UTC)

    def _take(self, row: dict[str, Any], proc: Procedure) -> BpmnWorkflow:
        with self._live_lock:
            hit = self._live.pop(row["id"], None)
        if hit is not None and hit[0] == row["row_version"]:
            return hit[1]
        with self.raw.read() as cursor:
            stored = self.sql["state"].one(cursor, {"case_id": row["id"], "row_version": row["row_version"]})
        if stored is None:  # another command changed the case since its row was read
            raise Conflict("the case was changed by another command; reload and retry")
        spec = load_spec(proc)
        return workflow_state.load(stored["state"], spec.spec, spec.subprocess_specs)

    def _put(self, case_id: str, row_version: int, workflow: BpmnWorkflow) -> None:
        with self._live_lock:
            self._live[case_id] = (row_version, workflow)
            while len(self._live) > self._cache_size:
                self._live.popitem(last=False)

    @staticmethod
    def _ready(workflow: BpmnWorkflow) -> dict[str, Task]:
        """Ready human tasks by id (a flat scan: cheaper than SpiffWorkflow's tree iterator)."""
        return {
            str(task.id): task
            for wf in (workflow, *workflow.subprocesses.values())
            for task in wf.tasks.values()
            if task.state == TaskState.READY and task.task_spec.manual
        }

    def _ready_task(self, cmd: _Command, task_id: str, allow_foreign: bool = False) -> Task:
        self._require_open(cmd)
        try:
            task = cmd.workflow.get_task_from_id(uuid.UUID(task_id))
        except (ValueError, TypeError):
            task = None
        except Exception:  # SpiffWorkflow raises its own error for unknown ids
            task = None
        if task is None:
            raise NotFound(f"task {task_id} does not exist in case {cmd.row['id']}", field="task_id")
        if not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise NotAllowed(f"task {task_id} is not waiting for a performer")
        if cmd.assignee not in (None, cmd.actor) and not allow_foreign:
            raise Forbidden(f"task is claimed by {cmd.assignee}")
        return task

    def _ready_task_of_kind(self, cmd: _Command, kind: str, task_id: str | None) -> Task:
        """The ready task of `kind` (the one named, if any), held to its claim like any task."""
        if task_id is not None:
            task = self._ready_task(cmd, task_id)
            if step_kind(cmd.procedure, task.task_spec) != kind:
                raise NotAllowed(f"task {task_id} is not a {kind} step", field="task_id")
            return task
        self._require_open(cmd)
        for tid, task in self._ready(cmd.workflow).items():
            if step_kind(cmd.procedure, task.task_spec) == kind:
                with self.raw.read() as cursor:
                    found = self.sql["assignee"].one(cursor, {"task_id": tid})
                cmd.assignee = found["assignee"] if found else None
                if cmd.assignee not in (None, cmd.actor):
                    raise Forbidden(f"task is claimed by {cmd.assignee}")
                return task
        raise NotAllowed(f"no {kind} step is waiting in this case")

    def _require_active(self, cmd: _Command) -> None:
        if cmd.row["status"] not in ACTIVE:
            raise NotAllowed(f"the case has ended ({cmd.row['status']})")

    def _require_open(self, cmd: _Command) -> None:
        if cmd.row["status"] != OPEN:
            raise NotAllowed(f"the case is {cmd.row['status']}, not open")

    def _complete(self, cmd: _Command, task: Task, data: dict[str, Any]) -> None:
        proc = cmd.procedure
        name = task.task_spec.name
        kind = step_kind(proc, task.task_spec)
        data = dict(data)
        extra: dict[str, Any] = {}
        if kind == "decision":
            outcome, ground = data.pop("outcome", None), data.pop("ground", None)
            if outcome not in ("approve", "refuse"):
                raise InvalidInput("outcome must be 'approve' or 'refuse'", field="data.outcome")
            if outcome == "refuse":
                if ground is None:
                    raise InvalidInput("a refusal must name its legal ground", field="data.ground")
                try:
                    proc.ground(ground)
                except KeyError:
                    ids = [g.id for g in proc.refusal_grounds]
                    raise InvalidInput(f"ground must be one of {ids}", field="data.ground") from None
            elif ground is not None:
                raise InvalidInput("an approval has no refusal ground", field="data.ground")
            extra = {"outcome": outcome, "ground": ground}
            cmd.changes.update(outcome="approved" if outcome == "approve" else "refused", ground=ground)
        fields = proc.step(name).fields if proc.steps and _has_step(proc, name) else ()
        clean = clean_form(fields, data) if (fields or proc.steps) else _plain(data)
        task.set_data(**clean, **extra)
        try:
            task.run()
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the step could not run: {exc}") from None
        self._engine_steps(cmd)
        cmd.step, cmd.done_task = name, str(task.id)
        cmd.data = {"task": str(task.id), "data": {**clean, **extra}}

    def _engine_steps(self, cmd: _Command) -> None:
        try:
            with clock(cmd.now):
                cmd.workflow.do_engine_steps()
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the procedure's flow failed: {exc}") from None
        if cmd.workflow.is_completed() and cmd.row["status"] in ACTIVE:
            cmd.changes.setdefault("status", COMPLETED)
            cmd.changes.setdefault("closed_at", cmd.now)

    def _write(self, cmd: _Command, action: str, before: dict[str, Task], after: dict[str, Task],
               new: bool = False) -> None:
        row, proc, sql = cmd.row, cmd.procedure, self.sql
        version = row["row_version"] + 1
        event = audit.new_event(row["id"], version, row["last_hash"], cmd.now, cmd.actor, action,
                                cmd.step, cmd.data)
        values = {**cmd.changes, "row_version": version, "last_hash": event["hash"]}
        if cmd.workflow_changed or new:
            try:
                values["state"] = workflow_state.dump(cmd.workflow)
            except TypeError as exc:  # e.g. an integer over 64 bits computed by a script
                raise NotAllowed(f"the step produced a value that cannot be stored: {exc}") from None
            values["state_format"] = workflow_state.FORMAT
        due = values.get("due_date", row["due_date"])
        timers_after = None
        if (cmd.workflow_changed or new) and load_spec(proc).has_timers:
            timers_after = timer_due_times(cmd.workflow)
        case_id = row["id"]
        with self.raw.write() as cur:
            if new:
                sql["insert_case"].run(cur, {**row, **values})
            else:
                if self._update_case(tuple(sorted(values))).run(
                        cur, {**values, "_id": case_id, "_expected": row["row_version"]}) != 1:
                    raise Conflict("the case was changed by another command; reload and retry")
            sql["insert_event"].run(cur, event)
            for task_id in before.keys() - after.keys():
                done = task_id == cmd.done_task
                sql["close_task"].run(cur, {"_task": task_id, "state": "done" if done else "cancelled",
                                            "closed_at": cmd.now, "closed_by": cmd.actor if done else None})
            opened = [t for tid, t in after.items() if tid not in before]
            if opened:
                sql["insert_task"].run_many(cur, [self._task_row(cmd, t, due) for t in opened])
            if cmd.assign is not None:
                sql["assign_task"].run(cur, {"_task": cmd.assign[0], "_case": case_id,
                                             "assignee": cmd.assign[1]})
            if timers_after is not None and timers_after != cmd.timers_before:
                if not new:
                    sql["delete_timers"].run(cur, {"_case": case_id})
                if timers_after:
                    sql["insert_timer"].run_many(cur, [{"case_id": case_id, "task_id": k, "due_at": v}
                                                       for k, v in timers_after])
            for document, status in cmd.documents.items():
                doc = {"status": status, "updated_at": cmd.now, "actor": cmd.actor}
                if sql["update_document"].run(cur, {**doc, "_case": case_id, "_document": document}) == 0:
                    sql["insert_document"].run(cur, {**doc, "case_id": case_id, "document": document})
            if "due_date" in cmd.changes and not new:
                sql["task_due"].run(cur, {"_case": case_id, "due_date": cmd.changes["due_date"]})
        row.update(values)

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

    def _task_row(self, cmd: _Command, task: Task, case_due: date) -> dict[str, Any]:
        proc = cmd.procedure
        name = task.task_spec.name
        role_id = task.task_spec.lane or "clerk"
        try:
            acts_as = proc.role(role_id).acts_as
        except KeyError:
            acts_as = "clerk"
        step_due = case_due
        if _has_step(proc, name) and proc.step(name).term:
            step_due = min(case_due, due_date(cmd.today, proc.step(name).term, self.calendar))
        return {
            "id": str(task.id), "case_id": cmd.row["id"], "step": name,
            "kind": step_kind(proc, task.task_spec), "title": task.task_spec.bpmn_name or name,
            "role": role_id, "acts_as": acts_as, "authority": cmd.row["authority"], "state": "open",
            "assignee": None, "due_date": step_due, "created_at": cmd.now, "closed_at": None,
            "closed_by": None,
        }

def _has_step(proc: Procedure, name: str) -> bool:
    return any(s.id == name for s in proc.steps)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Data for a task of a hand-drawn BPMN: plain JSON values under identifier keys only.

    The names the engine sets itself (the decision's outcome and ground, the built-ins) cannot be
    written through a form: a refusal without a ground would otherwise be possible."""
    for key, value in data.items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise InvalidInput(f"field name {key!r} is not allowed", field=f"data.{key}")
        if key in RESERVED_FIELD_IDS or key in BUILTIN_NAMES:
            raise InvalidInput(f"{key!r} is set by the engine, not by a form", field=f"data.{key}")
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise InvalidInput("values must be text, numbers, booleans or null", field=f"data.{key}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput("numbers must be finite", field=f"data.{key}")
        if isinstance(value, str):
            check_text(value, f"data.{key}", key)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise InvalidInput(f"numbers are at most {MAX_INTEGER} in size", field=f"data.{key}")
    return data


def step_kind(proc: Procedure, task_spec: Any) -> str:
    """The kind of a step: from the definition's steps, or from a drawn task's `kind` property."""
    for step in proc.steps:
        if step.id == task_spec.name:
            return step.kind
    return drawn_step_kind(task_spec) or "task"

"""The unit of work: one command's view of its case, and the one transaction that writes it.

    with cases.unit_of_work(actor) as uow:
        case = uow.cases.get(case_id)
        case.withdraw(reason)
        uow.commit()

`uow.cases.get` reads the case row outside any write transaction and restores its workflow: from
the live cache when the cached copy is at the stored row version, else from the stored state.
`commit()` writes what the case recorded (state, task rows, timers, documents, audit event) in one
transaction with an optimistic row-version check; leaving the block without committing writes
nothing, and a workflow that a failed command may have half-changed is never put back in the cache.
Closing a case replaces its workflow state by a compact stand-in (`engine.store.closed_state`):
a closed case takes no more commands, so its workflow is not kept in the cache either.

A command sent with an Idempotency-Key gets a `Remember` (engine.idempotency): its commit writes
every changed case and the stored answer in one transaction, so a crash leaves both or neither.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, datetime

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine import idempotency
from engine.audit import facts
from engine.audit.chain import EventWriter
from engine.bpmn.timer_clock import timer_due_times
from engine.definition.procedure import Procedure
from engine.errors import Conflict, NotAllowed, NotFound
from engine.process.specs import load_spec
from engine.runtime.case import Case, external_tasks, ready_tasks
from engine.statuses import CaseStatus
from engine.store import closed_state, workflow_state
from engine.store.case_rows import CaseRows, CaseWrite
from engine.store.versions import Versions
from engine.terms import WorkCalendar


class LiveWorkflows:
    """Workflows of recently used cases, by case id, with the row version they are at (LRU).

    A command takes its case's workflow out (so two commands never share one) and puts it back
    after it committed; a stale entry (another process wrote the case) is ignored by version."""

    def __init__(self, size: int = 2048) -> None:
        self._items: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def take(self, case_id: str, row_version: int) -> BpmnWorkflow | None:
        with self._lock:
            hit = self._items.pop(case_id, None)
        return hit[1] if hit is not None and hit[0] == row_version else None

    def put(self, case_id: str, row_version: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[case_id] = (row_version, workflow)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class CaseRepository:
    """Cases by id, as one unit of work sees them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def get(self, case_id: str, *, task_id: str | None = None,
            expected_version: int | None = None) -> Case:
        """The case, with `assignee` of `task_id` when named; NotFound, or Conflict if the case is
        not at `expected_version`."""
        uow = self._uow
        row = uow.rows.read(case_id, task_id)
        if row is None:
            raise NotFound(f"case {case_id} does not exist", field="case_id")
        assignee = row.pop("assignee")
        if expected_version is not None and row["row_version"] != expected_version:
            raise Conflict(f"case is at version {row['row_version']}, not {expected_version}")
        proc = uow.versions.get(row["version"])
        case = Case(row, proc, self._workflow(row, proc), uow.calendar, uow.actor, uow.now, uow.today,
                    assignee=assignee)
        uow.seen.append(case)
        return case

    def add(self, case: Case) -> None:
        """A new case, inserted on commit."""
        self._uow.seen.append(case)

    def assignee(self, task_id: str) -> str | None:
        return self._uow.rows.assignee(task_id)

    def documents_pending(self, case_id: str, exclude: str) -> bool:
        return self._uow.rows.documents_pending(case_id, exclude)

    def documents(self, case_id: str) -> dict[str, str]:
        return self._uow.rows.documents(case_id)

    def _workflow(self, row: dict, proc: Procedure) -> BpmnWorkflow:
        uow = self._uow
        workflow = uow.live.take(row["id"], row["row_version"])
        if workflow is not None:
            return workflow
        stored = uow.rows.state(row["id"], row["row_version"])
        if stored is None:  # another command changed the case since its row was read
            raise Conflict("the case was changed by another command; reload and retry")
        uow.states_read[row["id"]] = stored["state"]  # the audit event records its digest
        spec = load_spec(proc)
        try:
            return workflow_state.load(stored["state"], spec.spec, spec.subprocess_specs,
                                       state_format=stored["state_format"],
                                       spiff_version=stored["spiff_version"])
        except workflow_state.StateFormatError as exc:
            raise NotAllowed(f"case {row['id']} cannot be restored: {exc}") from None


class UnitOfWork:
    """One command: the cases it reads, and the commit that writes them."""

    def __init__(self, rows: CaseRows, versions: Versions, live: LiveWorkflows, calendar: WorkCalendar,
                 actor: str, now: datetime, today: date, events: EventWriter,
                 remember: idempotency.Remember | None = None,
                 names: Callable[[], Mapping[str, str]] | None = None, *,
                 observe: Callable[[str, float], None] | None = None) -> None:
        self.rows, self.versions, self.live, self.calendar = rows, versions, live, calendar
        self.events = events
        self.remember = remember
        self.names = names  # authority id -> name, for the notices a command renders
        self.actor, self.now, self.today = actor, now, today
        self.seen: list[Case] = []
        self.states_read: dict[str, bytes] = {}  # case id -> the stored state restored (cache misses)
        self.cases = CaseRepository(self)
        self._hold = None
        self._observe, self._started = observe, 0.0

    def __enter__(self) -> UnitOfWork:
        self._started = time.perf_counter()
        self._hold = self.rows.hold()  # one pooled connection for the command's reads and its write
        self._hold.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.seen.clear()  # uncommitted: nothing written, nothing put back in the live cache
        self._hold.__exit__(*exc)

    def claim(self, work: str, case_id: str):
        """Claim `case_id` for the scheduler's `work` ("timers" or "overdue") before reading it:
        a context manager yielding whether the work is still due and no other worker holds it;
        on PostgreSQL the case is then read and written in the claim's transaction
        (`CaseRows.claim`)."""
        return self.rows.claim(work, case_id, self.now, self.today)

    def commit(self) -> None:
        """Write every case the command changed (a no-op command writes and audits nothing);
        with `remember`, the changes and the answer in one transaction (KeyTaken, and nothing
        written, when a request with the same key committed first)."""
        if self.remember is not None:
            self._commit_remembered(self.remember)
            return
        for case in self.seen:
            if not case.noop:
                self._write(case)
                if self._observe is not None:
                    self._observe(case.action, time.perf_counter() - self._started)
            if case.row["status"] != CaseStatus.CLOSED:  # a closed case takes no more commands
                self.live.put(case.id, case.row["row_version"], case.workflow)
        self.seen.clear()

    def _commit_remembered(self, remember: idempotency.Remember) -> None:
        if not self.seen:
            raise NotAllowed("a keyed command must name its case")
        with self.rows.transaction() as (conn, cursor):
            for case in self.seen:
                if not case.noop:
                    self._write(case, cursor)
            remember.store(conn, self.seen[0].id)
        for case in self.seen:  # committed: the workflows are what is stored
            if case.row["status"] != CaseStatus.CLOSED:  # a closed case takes no more commands
                self.live.put(case.id, case.row["row_version"], case.workflow)
        self.seen.clear()

    def _write(self, case: Case, cursor=None) -> None:
        row = case.row
        version = row["row_version"] + 1
        values = dict(case.changes)
        stepped = case.workflow_changed or case.new
        if stepped:
            try:
                values["state"] = workflow_state.dump(case.workflow)
            except TypeError as exc:  # e.g. an integer over 64 bits computed by a script
                raise NotAllowed(f"the step produced a value that cannot be stored: {exc}") from None
            values["state_format"] = workflow_state.FORMAT
            values["spiff_version"] = workflow_state.SPIFF_VERSION
        if values.get("status") == CaseStatus.CLOSED:
            values.update(state=closed_state.compact(self._stored_state(row)),
                          state_format=closed_state.FORMAT)
        timers = None
        if stepped and case.has_timers:
            timers = timer_due_times(case.workflow)
            if timers == case.timers_before:
                timers = None
        external_opened, external_closed = [], []
        if stepped:
            waiting = external_tasks(case.workflow)
            external_opened = [{"id": tid, "case_id": row["id"], "topic": t.task_spec.topic,
                                "step": t.task_spec.name, "created_at": case.now, "incident": False,
                                "worker_id": None, "lock_expires_at": None, "retries": None,
                                "error_message": None}
                               for tid, t in waiting.items() if tid not in case.external_before]
            external_closed = sorted(case.external_before - waiting.keys())
        before = case.ready_before
        after = case.ready_after = ready_tasks(case.workflow)
        opened = [task for tid, task in after.items() if tid not in before]
        write = CaseWrite(
            row=row, values=values, event={}, new=case.new, at=case.now, actor=case.actor,
            closed_tasks={tid: tid == case.done_task for tid in before.keys() - after.keys()},
            opened_tasks=case.task_rows(opened, values.get("due_date", row["due_date"])),
            assign=case.assign, timers=timers, documents=case.documents,
            tasks_due=case.changes["due_date"] if "due_date" in case.changes and not case.new else None,
            notices=case.notices,
            register=(row["authority"], case.today.year) if case.new else None,
            tasks_authority=case.changes.get("authority") if not case.new else None,
            retask=case.retask, external_opened=external_opened,
            external_closed=external_closed, external_update=case.external_update,
        )

        def seal(w: CaseWrite) -> None:
            """In the write transaction, once a new case has its registration number: the
            notices (which quote it) and the event that records what the write changes."""
            if "reg_number" in values:
                row["reg_number"] = values["reg_number"]
            if case.notice_requests:
                w.notices = case.render_notices(dict(self.names()) if self.names else None)
            # The event records what the write changes (its effects), so the facts can be recomputed.
            w.event = self.events.new_event(row["id"], version, row["last_hash"], case.now,
                                            case.actor, case.action, case.step, case.data,
                                            facts.effects(w, self.states_read.get(row["id"])))
            values.update(row_version=version, last_hash=w.event["hash"])

        self.rows.write(write, seal, cursor)
        row.update(values)

    def _stored_state(self, row: dict) -> bytes:
        """The state stored at the row's version (read now on a live-cache hit); the event records
        its digest as what the command found."""
        state = self.states_read.get(row["id"])
        if state is None:
            stored = self.rows.state(row["id"], row["row_version"])
            if stored is None:
                raise Conflict("the case was changed by another command; reload and retry")
            state = self.states_read[row["id"]] = stored["state"]
        return state

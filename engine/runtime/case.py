"""A Case: one running instance of a procedure version, and the commands that change it.

`Procedure` is the definition, `Case` the instance (as SpiffWorkflow keeps `WorkflowSpec` apart from
`Workflow`). A Case holds its stored facts (`row`), its procedure version and its live SpiffWorkflow
workflow. Each command method checks that it fits the case's state, runs the engine and records what
changes (`changes`, `documents`, `assign`, the audit `data`); it never touches the database. The
unit of work (`engine.runtime.unit_of_work`) writes what was recorded, all of it or nothing.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task, TaskState

from engine.accounts import STAFF, Account
from engine.appeals.notice_values import notice_values, ru_date
from engine.appeals.registration import ANONYMOUS_APPLICANT, registration
from engine.audit.chain import GENESIS
from engine.bpmn.external import ExternalTask
from engine.bpmn.multi_instance import MissingCollection
from engine.bpmn.timer_clock import clock, has_timers, timer_due_times
from engine.bpmn.xml import BpmnError
from engine.definition.procedure import (
    BUILTIN_NAMES,
    LEFT,
    WITHDRAWN,
    NoticeText,
    Procedure,
    ServiceOption,
)
from engine.definition.validation import RESERVED_FIELD_IDS
from engine.errors import (
    Conflict,
    DocumentsMissing,
    DocumentsOutstanding,
    FieldError,
    Forbidden,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from engine.expressions import ExpressionError, evaluate
from engine.notices import refusal
from engine.notices.drafts import NoticeDraft, draft_text
from engine.process.specs import load_spec, new_workflow
from engine.process.specs import step_kind as drawn_step_kind
from engine.runtime.forms import MAX_INTEGER, check_text, clean_form
from engine.statuses import ACTIVE, ENDED, CaseStatus, DocumentStatus, TaskStatus
from engine.store import workflow_state
from engine.terms import WorkCalendar, due_date, extend_due, shift_by_pause

INFORMATION_TEXT_MAX = 500  # the body asked and what is asked of it, in a free request

LEGAL_22 = ("Directive No. 2, §2.2: demanding documents that the procedure does not list is a "
            "gross violation")


class Opened(NamedTuple):
    """A human task a command opened."""

    id: str
    step: str


@dataclass
class Case:
    """A case as one command sees it, and what that command decides to write."""

    row: dict[str, Any]
    procedure: Procedure
    workflow: BpmnWorkflow
    calendar: WorkCalendar
    actor: str
    now: datetime  # UTC
    today: date  # the authority's local day
    assignee: str | None = None  # who holds the task the command names, from the tasks table
    changes: dict[str, Any] = field(default_factory=dict)
    action: str = ""
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    recorded: dict[str, str] | None = None  # the documents as stored (loaded for intake/decision)
    done_task: str | None = None
    assign: tuple[str, str | None] | None = None
    workflow_changed: bool = True
    noop: bool = False  # the command changes nothing: no write, no audit event
    new: bool = False
    ready_before: dict[str, Task] = field(default_factory=dict)
    ready_after: dict[str, Task] | None = None  # set by the unit of work when it wrote the case
    timers_before: list[tuple[str, datetime]] = field(default_factory=list)
    # Open task rows whose columns change in place (a case moved to another version:
    # engine.runtime.migration): task id -> the new values of kind, title, role, acts_as.
    retask: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[NoticeDraft] = field(default_factory=list)  # stored with the command's event
    external_before: set[str] = field(default_factory=set)  # waiting external task ids
    # Columns of external task rows the command changes in place (a worker's failure).
    external_update: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Notices the command generates, rendered when the write seals (a new case's notices quote
    # its registration number, given in the write transaction): (text, extra values, due by).
    notice_requests: list[tuple[NoticeText, dict[str, Any], date | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.new:  # a workflow not started yet: no task is ready, no timer waits
            return
        self.ready_before = ready_tasks(self.workflow)
        self.external_before = set(external_tasks(self.workflow))
        if self.has_timers:
            self.timers_before = timer_due_times(self.workflow)

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def max_term(self) -> str:
        """The case's maximum term: its service option's, else the procedure's."""
        option = self.row.get("option")
        return self.procedure.option(option).term if option else self.procedure.term.max

    @property
    def has_timers(self) -> bool:
        parsed = load_spec(self.procedure)
        # ParsedSpec.has_timers misses an event-based gateway's timer branch (held by the gateway).
        return parsed.has_timers or has_timers(parsed, (parsed.spec, *parsed.subprocess_specs.values()))

    # ------------------------------------------------------------------------------------ start

    @classmethod
    def start(cls, procedure: Procedure, *, applicant: str | None, channel: str, authority: str,
              category: str | None, exempt: bool, applicant_user: str | None, actor: str,
              now: datetime, today: date, calendar: WorkCalendar,
              data: dict[str, Any] | None = None, terminated_on: str | None = None,
              option: str | None = None) -> Case:
        """A new case on `procedure`: the application checked and the workflow run to its first task.

        An appeal (or a book entry) is registered with `data` (engine.appeals.registration); an
        anonymous one that reports no crime is left without consideration at once, on the ground
        its definition names; so is one on a question whose correspondence was terminated
        (`terminated_on`: the leave ground, found by engine.appeal_registers.correspondence).
        Every case gets its registration number when it is written. `option` is the service
        option chosen (the definition's `options`): the case's term and fee are its."""
        proc = procedure
        chosen = chosen_option(proc, option)
        fee = chosen.fee if chosen is not None else proc.fee
        number = proc.number
        reg = None
        if proc.is_procedure:
            if data is not None:
                raise InvalidInput(f"procedure {number} takes no registration data", field="data")
        else:
            reg = registration(proc, data)
            if reg.anonymous:  # whatever name staff typed: the appeal gives none
                applicant = ANONYMOUS_APPLICANT
        if channel not in proc.channels:
            raise InvalidInput(f"channel {channel!r} is not offered for {number}; offered: "
                               f"{list(proc.channels)}", field="channel")
        for name, value in (("applicant", applicant), ("authority", authority)):
            if not isinstance(value, str) or not value.strip() or len(value) > 128:
                raise InvalidInput(f"{name} must be 1 to 128 characters", field=name)
        if fee.kind == "by_category":
            ids = [c.id for c in fee.categories]
            if category not in ids:
                raise InvalidInput(f"category must be one of {ids}", field="category")
        elif category is not None:
            raise InvalidInput(f"procedure {number} has no fee categories", field="category")
        if exempt and not fee.exemptions and fee.kind != "free":
            raise InvalidInput("this procedure's fee has no exemptions", field="exempt")
        try:
            # Every form field starts as None, so a condition on a field not filled in (optional,
            # or of a skipped step) reads None instead of failing on an unknown name.
            fields = {f.id: None for step in proc.steps for f in step.fields}
            workflow = new_workflow(proc, {**fields, "channel": channel, "category": category,
                                           "exempt": bool(exempt), "documents_requested": False,
                                           "option": chosen.id if chosen is not None else None})
        except BpmnError as exc:
            raise NotAllowed(f"procedure {number} version {proc.version[:12]} cannot run: {exc}") from None
        workflow.script_engine = workflow_state.script_engine()
        row = {
            "id": str(uuid.uuid4()), "number": proc.number, "version": proc.version,
            "type": proc.type, "reg_number": None, "kind": None, "topic": None,
            "question": None, "email": None, "address": None, "anonymous": False,
            "extension": None, "forwarded_from": None, "forwarded_on": None,
            **(reg.columns() if reg is not None else {}),
            "status": CaseStatus.OPEN.value, "outcome": None, "ground": None, "applicant": applicant,
            "applicant_user": applicant_user, "channel": channel,
            "authority": authority, "category": category, "exempt": bool(exempt),
            "option": chosen.id if chosen is not None else None,
            # A table fee is known once the intake data name its cell (see _complete): 0 till then.
            "fee": fee.amount(category, exempt) or 0, "started_at": now, "start_date": today,
            "due_date": due_date(today, chosen.term if chosen is not None else proc.term.max,
                                 calendar),
            "documents_requested": False, "suspended_on": None, "paused_days": 0, "overdue": False,
            "closed_at": None, "row_version": 0, "last_hash": GENESIS,
        }
        case = cls(row, proc, workflow, calendar, actor, now, today, new=True, action="start")
        case._engine_steps()
        case.data = {"number": proc.number, "version": proc.version, "applicant": applicant,
                     "applicant_user": applicant_user, "channel": channel, "authority": authority,
                     "category": category, "exempt": bool(exempt)}
        if chosen is not None:
            case.data["option"] = chosen.id
        if reg is not None:
            case.data["appeal"] = {**reg.columns(), "reports_crime": reg.reports_crime}
            rule = proc.anonymous
            if reg.anonymous and rule is not None and (
                    not reg.reports_crime or rule.when_reporting_crime == "leave"):
                case._leave_without_consideration(rule.ground, None)
                case.data["left"] = rule.ground
            elif terminated_on is not None:
                case._leave_without_consideration(terminated_on, None)
                case.data["left"] = terminated_on
        return case

    # ------------------------------------------------------------------------------------ tasks

    def complete_task(self, task_id: str, data: dict[str, Any] | None) -> None:
        """Complete a human task with form data validated against its step's fields."""
        self.action = "complete"
        self._complete(self.ready_task(task_id), data or {})

    def claim(self, task_id: str) -> None:
        """Take a task into one's own work list; a task claimed by someone else stays theirs."""
        task = self.ready_task(task_id)
        self.action = "claim"
        self.noop = self.assignee == self.actor  # claimed already: nothing to write or audit
        self.assign = (str(task.id), self.actor)
        self.step, self.workflow_changed = task.task_spec.name, False

    def unclaim(self, task_id: str, *, force: bool = False) -> None:
        """Give a task back to the shared work list (a supervisor may force it)."""
        task = self.ready_task(task_id, allow_foreign=force)
        self.action = "unclaim"
        self.noop = self.assignee is None  # nobody holds it: nothing to write or audit
        self.assign = (str(task.id), None)
        self.step, self.workflow_changed = task.task_spec.name, False

    def reassign(self, task_id: str, *, to: Account | None, by: Account | None) -> None:
        """A supervisor of the case's authority gives an open task to a named member of its
        staff: an enabled clerk (or supervisor) of that authority; a step that acts as
        supervisor only to a supervisor. The previous holder, if any, is in the audit event."""
        self.action = "reassign"
        if (by is None or by.disabled or by.role != "supervisor"
                or by.org != self.row["authority"]):
            raise Forbidden("only a supervisor of the case's authority may reassign its tasks")
        task = self.ready_task(task_id, allow_foreign=True)
        if to is None or to.disabled or to.org != self.row["authority"] or to.role not in STAFF:
            raise InvalidInput("the assignee must be an enabled clerk of the case's authority",
                               field="assignee")
        if self._acts_as(task) == "supervisor" and to.role != "supervisor":
            raise InvalidInput("this step is performed by a supervisor: assign it to one",
                               field="assignee")
        self.noop = self.assignee == to.name  # theirs already: nothing to write or audit
        self.assign = (str(task.id), to.name)
        self.step, self.workflow_changed = task.task_spec.name, False
        self.data = {"task": str(task.id), "assignee": to.name, "previous": self.assignee}

    def decide(self, outcome: str, ground: str | None, data: dict[str, Any] | None,
               task: Task) -> None:
        """Complete the decision task: approve, or refuse naming a legal ground."""
        self.action = "complete"
        try:
            self._complete(task, {**(data or {}), "outcome": outcome, "ground": ground})
        except InvalidInput as exc:  # outcome and ground are arguments here, not form fields
            if exc.field in ("data.outcome", "data.ground"):
                exc.field = exc.field.removeprefix("data.")
            raise

    def issue_result(self, data: dict[str, Any] | None, task: Task) -> None:
        """Complete the issue task: the result is handed over."""
        self.action = "complete"
        self._complete(task, data or {})

    # -------------------------------------------------------------------------------- documents

    def record_document(self, document: str, status: str, *, others_pending: bool | None) -> None:
        """Mark a listed document presented, requested from another body, or received.

        `others_pending`: whether another requested document has not arrived yet (asked of the
        store only when it matters, see `needs_pending_check`)."""
        proc = self.procedure
        self.action = "document"
        if document not in proc.document_ids():
            raise NotAllowed(f"document {document!r} is not listed for procedure "
                             f"{proc.number}. {LEGAL_22}.", field="document")
        requested_ids = {d.id for d in proc.requested_documents} | {
            d.id for d in proc.documents if d.may_be_requested}
        if status == DocumentStatus.REQUESTED and document not in requested_ids:
            raise NotAllowed(f"document {document!r} is presented by the citizen; only the "
                             f"documents the authority obtains itself can be requested",
                             field="document")
        self._require_active()
        self.documents[document] = status
        self.data = {"document": document, "status": status}
        self.workflow_changed = False
        if status == DocumentStatus.REQUESTED:
            self._documents_requested()
        if self.needs_pending_check(document, status) and not others_pending:
            # The term counts from the day the last requested document arrived.
            term = proc.term.when_documents_requested or self.max_term
            self.changes.update(due_date=due_date(self.today, term, self.calendar), paused_days=0)
            self.data["term_starts"] = self.today.isoformat()

    def _documents_requested(self) -> None:
        """The first request of documents or information: the longer term applies from now on."""
        if self.row["documents_requested"]:
            return
        proc = self.procedure
        self.changes["documents_requested"] = True
        if proc.term.when_documents_requested:
            base = extend_due(self.row["start_date"], self.max_term,
                              proc.term.when_documents_requested, self.calendar)
            self.changes["due_date"] = self._after_pauses(base, self.row["paused_days"])
        for task in self.workflow.get_tasks(state=TaskState.READY):
            task.data["documents_requested"] = True
        self.workflow_changed = True

    def record_information(self, body: str, asked: str, *, received: bool) -> None:
        """Record a free request of documents or information from another body (one not in the
        catalog's requested_documents), or its answer; the request extends the term exactly as a
        catalog document request does."""
        self.action = "information"
        for name, text in (("body", body), ("asked", asked)):
            if not text.strip() or len(text) > INFORMATION_TEXT_MAX:
                raise InvalidInput(f"{name} must be 1 to {INFORMATION_TEXT_MAX} characters",
                                   field=name)
        if not self.procedure.term.when_documents_requested:
            raise NotAllowed(f"procedure {self.procedure.number} has no term for requested "
                             "documents or information", field="asked")
        self._require_active()
        self.data = {"body": body, "asked": asked, "status": "received" if received else "requested"}
        self.workflow_changed = False
        if not received:
            self._documents_requested()

    def needs_pending_check(self, document: str, status: str) -> bool:
        """Whether receiving `document` may start the term (if no other requested one is pending)."""
        return (status == DocumentStatus.RECEIVED
                and document in {d.id for d in self.procedure.requested_documents}
                and self.procedure.term.counted_from == "documents_received")

    # ---------------------------------------------------------------------------- the lifecycle

    def withdraw(self, reason: str | None) -> None:
        """The applicant withdraws the application: allowed at any time before the procedure ends.

        An appeal is withdrawn only before it was considered on the merits (the reply) or left
        without consideration; consideration stops (outcome `withdrawn`)."""
        self.action = "withdraw"
        if not self.procedure.is_procedure and self.status not in ACTIVE:
            raise NotAllowed("an appeal can be withdrawn only before it is considered on the "
                             f"merits; this one has ended ({self.status})")
        self._require_active()
        self.workflow.cancel()
        self.changes.update(status=CaseStatus.WITHDRAWN.value, closed_at=self.now)
        if not self.procedure.is_procedure:
            self.changes["outcome"] = WITHDRAWN
        self.data = {"reason": reason}

    # ------------------------------------------------------------------- appeals (Law 300-З)

    def forward(self, to: str, to_name: str, note: str | None) -> None:
        """Forward the appeal to the competent authority `to` (of the catalog; `to_name` its
        name): the case moves there with its open tasks, its term counts again from today (the
        competent body receives it), and the applicant gets the forwarding notice, due within
        the definition's term (5 working days) after registration."""
        proc = self.procedure
        self.action = "forward"
        if proc.forwarding is None:
            raise NotAllowed(f"{proc.number} does not provide for forwarding")
        self._require_active()
        if to == self.row["authority"]:
            raise InvalidInput("the appeal is at this authority already: name the competent one",
                               field="to")
        self.changes.update(authority=to, forwarded_on=self.today)
        if self.row["forwarded_from"] is None:
            self.changes["forwarded_from"] = self.row["authority"]
        if proc.forwarding.restarts_term:
            due = due_date(self.today, self.max_term, self.calendar)
            self.changes.update(due_date=due, overdue=due < self.today, extension=None)
        self._notice(proc.forwarding.notice, {"authority": self.row["authority"],
                                              "forwarded_to": to, "forwarded_to_name": to_name,
                                              "note": note, "legal_basis": proc.forwarding.legal_basis},
                     due_by=due_date(self.row["start_date"], proc.forwarding.within, self.calendar))
        self.data = {"from": self.row["authority"], "to": to, "note": note}
        self.workflow_changed = False

    def extend(self, extension_id: str) -> None:
        """Extend the term as the definition allows (e.g. extra study: 1 month), once each; the
        due date never moves earlier. An extension with a notice sends it, due by the due date
        in force before (the applicant learns of it within the term)."""
        proc = self.procedure
        self.action = "extend"
        try:
            ext = proc.term.extension(extension_id)
        except KeyError:
            ids = [e.id for e in proc.term.extensions]
            raise InvalidInput(f"extension must be one of {ids}", field="extension") from None
        self._require_active()
        current = self.row["extension"]
        if current == ext.id:
            raise NotAllowed(f"the term was extended by {ext.id!r} already", field="extension")
        if ext.requires is not None and current != ext.requires:
            raise NotAllowed(f"extension {ext.id!r} needs {ext.requires!r} first", field="extension")
        if ext.requires is None and current is not None:
            raise NotAllowed(f"the term was extended by {current!r} already", field="extension")
        start = self.row["forwarded_on"] or self.row["start_date"]
        base = max(self.row["due_date"], due_date(start, ext.term, self.calendar))
        due = self._after_pauses(base, self.row["paused_days"])
        self.changes.update(due_date=due, overdue=due < self.today, extension=ext.id)
        if ext.notice is not None:
            self._notice(ext.notice, {"extension_title": ext.title,
                                      "legal_basis": ext.legal_basis}, due_by=self.row["due_date"])
        self.data = {"extension": ext.id, "due_date": due.isoformat()}
        self.workflow_changed = False

    def leave(self, ground: str, note: str | None) -> None:
        """Leave the appeal without consideration on the merits on a ground of the definition:
        it ends (outcome `left_without_consideration`), with the ground's notice."""
        self.action = "leave"
        self._require_active()
        self._leave_without_consideration(ground, note)
        self.data = {"ground": ground, "note": note}

    def _leave_without_consideration(self, ground: str, note: str | None) -> None:
        proc = self.procedure
        try:
            g = proc.leave_ground(ground)
        except KeyError:
            ids = [g.id for g in proc.leave_grounds]
            if not ids:
                raise NotAllowed(f"{proc.number} has no grounds of leaving without consideration",
                                 field="ground") from None
            raise InvalidInput(f"ground must be one of {ids}", field="ground") from None
        self.workflow.cancel()
        self.changes.update(status=CaseStatus.COMPLETED.value, outcome=LEFT, ground=g.id,
                            closed_at=self.now)
        self._notice(g.notice, {"ground_title": g.title, "legal_basis": g.legal_basis, "note": note},
                     due_by=due_date(self.row["start_date"], g.within, self.calendar))

    def _refusal_notice(self, ground: str) -> None:
        """The refusal notice: the ground's text, the superior body and the last day to appeal."""
        facts = refusal.facts(self.procedure, ground, self.today, self.calendar)
        extra = {**facts, "appeal_until": ru_date(facts["appeal_until"])}
        self.notice_requests.append((refusal.TEXT, extra, None))

    def _notice(self, notice_id: str, extra: dict[str, Any], due_by: date | None = None) -> None:
        """Generate the definition's notice `notice_id` (rendered when the write seals)."""
        self.notice_requests.append((self.procedure.notice(notice_id), extra, due_by))

    def render_notices(self, names: dict[str, str] | None = None) -> list[NoticeDraft]:
        """The notices this command generates, rendered from the case as the command leaves it
        (its registration number included), to its e-mail address when it has one."""
        row = {**self.row, **self.changes}
        recipient = None if row.get("anonymous") else row.get("email")
        for text, extra, due_by in self.notice_requests:
            values = notice_values(self.procedure, row, names or {}, self.today, extra)
            self.notices.append(draft_text(text, values, recipient, due_by))
        self.notice_requests.clear()
        return self.notices

    def refuse_acceptance(self, ground: str) -> None:
        """Refuse to accept the application, on a ground of Law No. 433-З, before intake is done."""
        self.action = "refuse_acceptance"
        self._require_active()
        if any(t.task_spec.manual for t in self.workflow.get_tasks(state=TaskState.COMPLETED)):
            raise NotAllowed("the application was accepted already; refuse it by a decision")
        try:
            g = self.procedure.ground(ground, acceptance=True)
        except KeyError:
            ids = [g.id for g in self.procedure.acceptance_refusal_grounds]
            raise InvalidInput(f"ground must be one of {ids}", field="ground") from None
        self.workflow.cancel()
        self.changes.update(status=CaseStatus.NOT_ACCEPTED.value, ground=g.id, closed_at=self.now)
        self.data = {"ground": g.id, "title": g.title}

    def suspend(self, ground: str) -> None:
        """Suspend where the definition allows it; the term stops running until resumed."""
        proc = self.procedure
        self.action = "suspend"
        if not proc.suspension_allowed:
            raise NotAllowed(f"procedure {proc.number} does not allow suspension")
        if self.status != CaseStatus.OPEN:
            raise NotAllowed(f"only an open case can be suspended; this one is {self.status}")
        ids = [g.id for g in proc.suspension_grounds]
        if ids and ground not in ids:
            raise InvalidInput(f"ground must be one of {ids}", field="ground")
        self.changes.update(status=CaseStatus.SUSPENDED.value, suspended_on=self.today)
        self.data, self.workflow_changed = {"ground": ground}, False

    def resume(self) -> None:
        """Resume a suspended case; its due date moves by the days it was suspended."""
        self.action = "resume"
        if self.status != CaseStatus.SUSPENDED:
            raise NotAllowed("the case is not suspended")
        row = self.row
        due = shift_by_pause(row["due_date"], row["suspended_on"], self.today, self.calendar)
        paused = (self.today - row["suspended_on"]).days
        self.changes.update(status=CaseStatus.OPEN.value, suspended_on=None, due_date=due,
                            overdue=due < self.today, paused_days=row["paused_days"] + paused)
        self.data = {"due_date": due.isoformat()}
        self.workflow_changed = False

    def close(self) -> None:
        """Archive a case that has ended (completed, withdrawn or not accepted)."""
        self.action = "close"
        if self.status not in ENDED:
            raise NotAllowed(f"only an ended case can be closed; this one is {self.status}")
        self.changes.update(status=CaseStatus.CLOSED.value, closed_at=self.row["closed_at"] or self.now)
        self.workflow_changed = False

    # ------------------------------------------------------------------------------- scheduler

    def fire_timers(self) -> None:
        """Fire the timers due by now; NotAllowed (nothing written) if none was."""
        self.action = "timer"
        if self.status != CaseStatus.OPEN:
            raise NotAllowed(f"the case is {self.status}: its timers wait")
        waiting = {task_id for task_id, _ in self.timers_before}
        try:
            with clock(self.now):
                self.workflow.refresh_timers()
        except MissingCollection as exc:
            raise _missing(exc) from None
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the timer could not fire: {exc}") from None
        self._engine_steps()
        gone = sorted(waiting - {task_id for task_id, _ in timer_due_times(self.workflow)})
        if not gone:
            raise NotAllowed("no timer was due")  # nothing happened: nothing is written
        self.step = ",".join(sorted({self.workflow.get_task_from_id(uuid.UUID(t)).task_spec.name
                                     for t in gone}))
        self.data = {"timers": gone}

    def complete_external(self, task_id: str, variables: dict[str, Any] | None) -> None:
        """A worker completed the external (service) task `task_id`: its variables (plain values)
        land in the task's data and the flow goes on."""
        self.action = "external_complete"
        self._require_open()
        task = external_tasks(self.workflow).get(task_id)
        if task is None:
            raise NotFound(f"no external task {task_id} waits in case {self.id}", field="task_id")
        payload = _checked_variables(variables)
        task.set_data(**payload)
        try:
            with clock(self.now):  # a timer the task leads to counts from the injected now
                task.complete()
        except MissingCollection as exc:
            raise _missing(exc) from None
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the external task could not complete: {exc}") from None
        self._engine_steps()
        self.step, self.done_task = task.task_spec.name, task_id
        self.data = {"task": task_id, "topic": task.task_spec.topic, "variables": payload}

    def fail_external(self, task_id: str, error_message: str, retries: int,
                      retry_timeout_ms: int) -> None:
        """A worker reports that the external task `task_id` failed: with `retries` left it may
        be fetched again after `retry_timeout_ms`; at 0 it is an incident (staff must act)."""
        self.action = "external_failure"
        self._require_open()
        task = external_tasks(self.workflow).get(task_id)
        if task is None:
            raise NotFound(f"no external task {task_id} waits in case {self.id}", field="task_id")
        incident = retries == 0
        self.external_update[task_id] = {
            "worker_id": None, "retries": retries, "error_message": error_message,
            "incident": incident,
            "lock_expires_at": None if incident else self.now + timedelta(milliseconds=retry_timeout_ms)}
        self.step, self.workflow_changed = task.task_spec.name, False
        self.data = {"task": task_id, "topic": task.task_spec.topic, "error_message": error_message,
                     "retries": retries, "incident": incident}

    def reset_external(self, task_id: str, retries: int) -> None:
        """Staff give the incident `task_id` (an external task out of retries) `retries` more:
        workers may fetch it again at once."""
        self.action = "external_retries"
        self._require_open()
        task = external_tasks(self.workflow).get(task_id)
        if task is None:
            raise Conflict(f"external task {task_id} no longer waits: it is done", field="task_id")
        self.external_update[task_id] = {"worker_id": None, "retries": retries, "incident": False,
                                         "lock_expires_at": None}
        self.step, self.workflow_changed = task.task_spec.name, False
        self.data = {"task": task_id, "topic": task.task_spec.topic, "retries": retries}

    def deliver_message(self, name: str, variables: dict[str, Any] | None) -> None:
        """Deliver the BPMN message `name` to the event of this case that waits for it (an
        intermediate catch event, a boundary event, an event-based gateway's branch); its
        `variables` (plain values, as a drawn task's form) land in the catching task's data."""
        self.action, self.step = "message", name
        self._require_open()
        waiting = waiting_messages(self.workflow)
        if name not in waiting:
            raise Conflict(f"no event of this case waits for message {name!r}; waiting: "
                           f"{sorted(waiting) or 'none'}", field="name")
        payload = _checked_variables(variables)
        try:
            with clock(self.now):
                self.workflow.send_event(BpmnEvent(waiting[name], payload=payload))
        except MissingCollection as exc:
            raise _missing(exc) from None
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the message could not be delivered: {exc}") from None
        self._engine_steps()
        self.data = {"message": name, "variables": payload}

    def mark_overdue(self) -> None:
        self.action = "overdue"
        if self.row["overdue"] or self.status != CaseStatus.OPEN:
            raise NotAllowed("no longer due")
        self.changes["overdue"] = True
        self.data = {"due_date": self.row["due_date"].isoformat()}
        self.workflow_changed = False

    # ------------------------------------------------------------------------------- the tasks

    def ready_of_kind(self, kind: str) -> list[tuple[str, Task]]:
        """The ready tasks of `kind` (decision, issue), by id."""
        self._require_open()
        return [(tid, t) for tid, t in ready_tasks(self.workflow).items()
                if step_kind(self.procedure, t.task_spec) == kind]

    def check_kind(self, task: Task, kind: str) -> Task:
        if step_kind(self.procedure, task.task_spec) != kind:
            raise NotAllowed(f"task {task.id} is not a {kind} step", field="task_id")
        return task

    def check_claim(self) -> None:
        if self.assignee not in (None, self.actor):
            raise Forbidden(f"task is claimed by {self.assignee}")

    def opened(self) -> list[Opened]:
        after = self.ready_after if self.ready_after is not None else ready_tasks(self.workflow)
        return [Opened(tid, task.task_spec.name) for tid, task in after.items()
                if tid not in self.ready_before]

    def task_rows(self, opened: list[Task], case_due: date) -> list[dict[str, Any]]:
        """Rows of the `tasks` side table for tasks that just opened."""
        return [self._task_row(t, case_due) for t in opened]

    # ------------------------------------------------------------------------------- internals

    def ready_task(self, task_id: str, allow_foreign: bool = False) -> Task:
        """The ready human task `task_id`, held to its claim unless `allow_foreign`."""
        self._require_open()
        try:
            task = self.workflow.get_task_from_id(uuid.UUID(task_id))
        except (ValueError, TypeError):
            task = None
        except Exception:  # SpiffWorkflow raises its own error for unknown ids
            task = None
        if task is None:
            raise NotFound(f"task {task_id} does not exist in case {self.id}", field="task_id")
        if not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise NotAllowed(f"task {task_id} is not waiting for a performer")
        if not allow_foreign:
            self.check_claim()
        return task

    def _require_active(self) -> None:
        if self.status not in ACTIVE:
            raise NotAllowed(f"the case has ended ({self.status})")

    def _require_open(self) -> None:
        if self.status != CaseStatus.OPEN:
            raise NotAllowed(f"the case is {self.status}, not open")

    def _after_pauses(self, due: date, paused_days: int) -> date:
        """A legal due date moved by the days the case was suspended (then off a non-working day)."""
        if not paused_days:
            return due
        return self.calendar.next_working_day(due + timedelta(days=paused_days))

    def _complete(self, task: Task, data: dict[str, Any]) -> None:
        proc = self.procedure
        name = task.task_spec.name
        kind = step_kind(proc, task.task_spec)
        data = dict(data)
        extra: dict[str, Any] = {}
        if kind == "decision" and not proc.is_procedure:
            extra = self._reply(data)
        elif kind == "decision":
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
            self.changes.update(outcome="approved" if outcome == "approve" else "refused", ground=ground)
            if outcome == "refuse":
                self._refusal_notice(ground)
        fields = proc.step(name).fields if proc.steps and _has_step(proc, name) else ()
        clean = clean_form(fields, data, self.today) if (fields or proc.steps) else _plain(data)
        if proc.is_procedure and kind == "intake":
            self._documents_presented({**task.data, **clean})
            if proc.fee.kind == "table":  # the intake data name the table's cell: the fee owed
                owed = proc.fee.amount(exempt=bool(self.row["exempt"]), values=clean)
                if owed is not None:
                    self.changes["fee"] = owed
        term_starts = None
        if proc.is_procedure and proc.term.counted_from_field in clean:
            term_starts = self._count_from_field(clean[proc.term.counted_from_field])
        if (proc.is_procedure and extra.get("outcome") == "approve"
                and (not _has_step(proc, name) or proc.step(name).waits_for_documents)):
            self._requested_arrived()
        task.set_data(**clean, **extra)
        try:
            # Under the injected clock: running a task updates the next ones, and a timer among
            # them (an event-based gateway's branch) computes its due time right then.
            with clock(self.now):
                task.run()
        except MissingCollection as exc:
            raise _missing(exc) from None
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the step could not run: {exc}") from None
        self._engine_steps()
        self.step, self.done_task = name, str(task.id)
        self.data = {"task": str(task.id), "data": {**clean, **extra}}
        if term_starts:
            self.data["term_starts"] = term_starts

    def _documents_presented(self, names: dict[str, Any]) -> None:
        """Intake completes only once every document the citizen must present is recorded:
        presented (or received), or requested where the row lets the authority request it.

        A document is needed unless it is optional or its condition, on the case's data with
        this intake's form, is false; a condition that cannot be told yet (it reads a field of
        a later step) demands nothing (Directive No. 2, §2.2: never ask what may not be due)."""
        recorded = {**(self.recorded or {}), **self.documents}
        missing = []
        for doc in self.procedure.documents:
            if doc.optional or not _needed(doc.condition, names):
                continue
            status = recorded.get(doc.id)
            if status in (DocumentStatus.PRESENTED, DocumentStatus.RECEIVED) or (
                    status == DocumentStatus.REQUESTED and doc.may_be_requested):
                continue
            how = ("не отмечен: отметьте его как представленный или как запрошенный органом"
                   if doc.may_be_requested else "не отмечен как представленный гражданином")
            missing.append(FieldError(f"documents.{doc.id}", doc.title, how))
        if missing:
            raise DocumentsMissing(missing)

    def _count_from_field(self, value: Any) -> str | None:
        """`term.counted_from: {field: …}`: the term counts from the date the form gives (a
        stay that starts on a stated day), the longer term if documents were requested.
        Returns the day the term now starts (ISO), None without a date."""
        if not isinstance(value, str):
            return None
        start = date.fromisoformat(value)
        proc = self.procedure
        due = due_date(start, self.max_term, self.calendar)
        if self.changes.get("documents_requested", self.row["documents_requested"]) \
                and proc.term.when_documents_requested:
            due = extend_due(start, self.max_term, proc.term.when_documents_requested, self.calendar)
        self.changes.update(due_date=due, overdue=due < self.today)
        return start.isoformat()

    def _requested_arrived(self) -> None:
        """An approval waits until every document the authority requested has arrived."""
        recorded = {**(self.recorded or {}), **self.documents}
        titles = {d.id: d.title for d in (*self.procedure.documents,
                                          *self.procedure.requested_documents)}
        waiting = [FieldError(f"documents.{doc}", titles.get(doc, doc), "документ истребован и ещё "
                              "не поступил") for doc, status in sorted(recorded.items())
                   if status == DocumentStatus.REQUESTED]
        if waiting:
            raise DocumentsOutstanding(waiting)

    def _reply(self, data: dict[str, Any]) -> dict[str, Any]:
        """The reply to an appeal: an outcome of the definition (no ground), and its notice with
        the reply's text (the step's `reply` field)."""
        proc = self.procedure
        outcome_id, ground = data.pop("outcome", None), data.pop("ground", None)
        try:
            outcome = proc.outcome(outcome_id)
        except (KeyError, TypeError):
            ids = [o.id for o in proc.outcomes]
            raise InvalidInput(f"outcome must be one of {ids}", field="data.outcome") from None
        if ground is not None:
            raise InvalidInput("a reply names no ground (leave the appeal without consideration "
                               "instead)", field="data.ground")
        self.changes.update(outcome=outcome.stored, ground=None)
        if outcome.notice is not None:
            self._notice(outcome.notice, {"outcome_title": outcome.title,
                                          "reply": data.get("reply")})
        return {"outcome": outcome.id, "ground": None}

    def _engine_steps(self) -> None:
        try:
            with clock(self.now):
                self.workflow.do_engine_steps()
        except MissingCollection as exc:
            raise _missing(exc) from None
        except (WorkflowException, ExpressionError) as exc:
            raise NotAllowed(f"the procedure's flow failed: {exc}") from None
        if self.workflow.is_completed() and self.status in ACTIVE:
            self.changes.setdefault("status", CaseStatus.COMPLETED.value)
            self.changes.setdefault("closed_at", self.now)
            if self.procedure.is_procedure and self.changes.get("outcome", self.row["outcome"]) is None:
                # No decision step decided (a drawn process without one): the procedure was carried
                # out to its end and nothing refused it (a refusal needs a decision naming its
                # ground), so the outcome is the approval (docs/engine.md, *Outcome without a decision*).
                self.changes["outcome"] = self.procedure.outcome("approve").stored

    def _acts_as(self, task: Task) -> str:
        """Whether a clerk or a supervisor performs `task` (its lane's role; clerk by default)."""
        try:
            return self.procedure.role(task.task_spec.lane or "clerk").acts_as
        except KeyError:
            return "clerk"

    def _task_row(self, task: Task, case_due: date) -> dict[str, Any]:
        proc = self.procedure
        name = task.task_spec.name
        role_id = task.task_spec.lane or "clerk"
        acts_as = self._acts_as(task)
        step_due = case_due
        if _has_step(proc, name) and proc.step(name).term:
            step_due = min(case_due, due_date(self.today, proc.step(name).term, self.calendar))
        return {
            "id": str(task.id), "case_id": self.id, "step": name,
            "kind": step_kind(proc, task.task_spec), "title": task.task_spec.bpmn_name or name,
            "role": role_id, "acts_as": acts_as, "authority": self.row["authority"],
            "state": TaskStatus.OPEN.value, "assignee": None, "due_date": step_due,
            "created_at": self.now, "closed_at": None, "closed_by": None,
        }


def ready_tasks(workflow: BpmnWorkflow) -> dict[str, Task]:
    """Ready human tasks by id (a flat scan: cheaper than SpiffWorkflow's tree iterator)."""
    return {
        str(task.id): task
        for wf in (workflow, *workflow.subprocesses.values())
        for task in wf.tasks.values()
        if task.state == TaskState.READY and task.task_spec.manual
    }


def external_tasks(workflow: BpmnWorkflow) -> dict[str, Task]:
    """The external (service) tasks waiting for a worker, by task id."""
    return {str(t.id): t for t in workflow.get_tasks(state=TaskState.STARTED)
            if isinstance(t.task_spec, ExternalTask)}


def _missing(exc: MissingCollection) -> InvalidInput:
    """A multi-instance task's collection is absent or not a list: the clerk's error, naming it."""
    return InvalidInput(exc.russian, field=f"data.{exc.variable}")


def _checked_variables(variables: dict[str, Any] | None) -> dict[str, Any]:
    """Variables a worker or a message sets: checked as a drawn task's form data."""
    try:
        return _plain(dict(variables or {}))
    except InvalidInput as exc:
        exc.field = "variables" + (exc.field or "").removeprefix("data")
        raise


def waiting_messages(workflow: BpmnWorkflow) -> dict[str, MessageEventDefinition]:
    """The messages the workflow's waiting events catch, by message name: an intermediate catch
    or boundary event's, and each message branch of a waiting event-based gateway (which holds its
    branches' definitions in one `MultipleEventDefinition`)."""
    found: dict[str, MessageEventDefinition] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        inner = (definition.event_definitions if isinstance(definition, MultipleEventDefinition)
                 else (definition,))
        for item in inner:
            if isinstance(item, MessageEventDefinition):
                found.setdefault(item.name, item)
    return found


def step_kind(proc: Procedure, task_spec: Any) -> str:
    """The kind of a step: from the definition's steps, or from a drawn task's `kind` property."""
    for step in proc.steps:
        if step.id == task_spec.name:
            return step.kind
    return drawn_step_kind(task_spec) or "task"


def _needed(condition: str | None, names: dict[str, Any]) -> bool:
    """Whether a document's condition holds on `names`; False when it cannot be told yet."""
    if not condition:
        return True
    try:
        return bool(evaluate(condition, names))
    except ExpressionError:
        return False


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


def chosen_option(proc: Procedure, option: str | None) -> ServiceOption | None:
    """The service option a new case takes: the one named, else the default; InvalidInput
    naming `option` if it is unknown, or if the procedure has options, no default and none was
    named (or it has none and one was named)."""
    if not proc.options:
        if option is not None:
            raise InvalidInput(f"procedure {proc.number} has no service options", field="option")
        return None
    ids = [o.id for o in proc.options]
    if option is None:
        if proc.default_option is None:
            raise InvalidInput(f"choose the service option: one of {ids}", field="option")
        return proc.default_option
    if not isinstance(option, str) or option not in ids:
        raise InvalidInput(f"option must be one of {ids}", field="option")
    return proc.option(option)

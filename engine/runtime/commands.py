"""Use cases: every command on a case, each one unit of work with one audit event.

Each command is a few lines over the unit of work (`engine.runtime.unit_of_work`):

    with self.unit_of_work(actor) as uow:
        case = uow.cases.get(case_id)
        case.withdraw(reason)
        uow.commit()

The rules live in `Case` (`engine.runtime.case`); the rows and the transaction in the store
(`engine.store.case_rows`). Commands that open human tasks return them, so callers need not
query for them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.task import Task
from sqlalchemy import select
from sqlalchemy.engine import Engine

from engine import accounts
from engine.appeal_registers import correspondence
from engine.audit.ledger import Ledger
from engine.clock import SystemClock
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.idempotency import Remember
from engine.runtime import migration
from engine.runtime.case import Case, Opened, external_tasks
from engine.runtime.unit_of_work import LiveWorkflows, UnitOfWork
from engine.statuses import ACTIVE, DocumentStatus
from engine.store import external_tasks as external_store
from engine.store.case_rows import CaseRows
from engine.store.tables import cases as cases_table
from engine.store.versions import Versions
from engine.terms import WorkCalendar, default_calendar

DOCUMENT_STATUSES = tuple(s.value for s in DocumentStatus)


class Cases:
    """The case engine: start cases and run commands on them, persisted and audited."""

    def __init__(self, db: Engine, versions: Versions, clock: SystemClock | None = None,
                 calendar: WorkCalendar | None = None, cache_size: int = 2048, *,
                 ledger: Ledger, authorities: Callable[[], Mapping[str, str]] | None = None) -> None:
        self.db = db
        # Authority id -> name, of the authorities catalog as it is now: where an appeal may be
        # forwarded, and the names its notices quote.
        self.authorities = authorities
        self.ledger = ledger  # the audit keys every event is keyed with, and its checkpoints
        self.rows = CaseRows(db)
        self.versions = versions
        self.clock = clock or versions.clock
        self.calendar = calendar or default_calendar()
        self.live = LiveWorkflows(cache_size)
        # Told (action, seconds) of every command that wrote, from its unit of work's start to
        # its commit (api.metrics: the command duration histogram); None: nobody listens.
        self.observe: Callable[[str, float], None] | None = None

    def unit_of_work(self, actor: str, remember: Remember | None = None) -> UnitOfWork:
        """A unit of work for one command by `actor`, at the clock's present moment; with
        `remember`, the command's answer is stored in its transaction (engine.idempotency)."""
        return UnitOfWork(self.rows, self.versions, self.live, self.calendar, actor, self.now(),
                          self.clock.today(), self.ledger.writer, remember, self.authorities,
                          observe=self.observe)

    def now(self) -> datetime:
        """The clock's time in UTC: every stored time is UTC (SQLite keeps no offset)."""
        return self.clock.now().astimezone(UTC)

    # ---------------------------------------------------------------- start

    def start(self, number: str, *, applicant: str | None, channel: str, authority: str,
              actor: str, category: str | None = None, exempt: bool = False,
              applicant_user: str | None = None, data: dict[str, Any] | None = None,
              remember: Remember | None = None, option: str | None = None) -> str:
        """Register an application (or an appeal, with its registration `data`): a new case on
        the newest version of the definition, with its registration number.

        `applicant_user` is the applicant's okno account, if any: it lets them follow the case.
        `option` is the service option chosen (the definition's `options`; None: its default):
        the case's term and fee are the option's.
        """
        proc = self.versions.current(number)
        terminated_on = self._terminated(proc, authority, applicant, applicant_user, data)
        with self.unit_of_work(actor, remember) as uow:
            case = Case.start(proc, applicant=applicant, channel=channel, authority=authority,
                              category=category, exempt=exempt, applicant_user=applicant_user,
                              actor=actor, now=uow.now, today=uow.today, calendar=self.calendar,
                              data=data, terminated_on=terminated_on, option=option)
            uow.cases.add(case)  # its workflow stays in the live cache: the first task usually follows soon
            uow.commit()
        return case.id

    def _terminated(self, proc, authority: str, applicant: str | None,
                    applicant_user: str | None, data: dict[str, Any] | None) -> str | None:
        """The leave ground of an appeal on a question whose correspondence the authority
        terminated (Law 300-З), if the definition has that ground; else None."""
        ground = correspondence.LEAVE_GROUND
        if proc.type != "appeal" or ground not in {g.id for g in proc.leave_grounds}:
            return None
        data = data or {}
        with self.db.connect() as conn:
            hit = correspondence.screen(conn, authority=authority, applicant=applicant or "",
                                        applicant_user=applicant_user, email=data.get("email"),
                                        question=data.get("question"),
                                        anonymous=bool(data.get("anonymous")))
        return None if hit is None else ground

    # ---------------------------------------------------------------- tasks

    def complete_task(self, case_id: str, task_id: str, data: dict[str, Any] | None, *,
                      actor: str, expected_version: int | None = None,
                      remember: Remember | None = None) -> list[Opened]:
        """Complete a human task with form data validated against its step's fields."""
        return self._run(case_id, actor, lambda case, uow: _recorded(case, uow).complete_task(
            task_id, data),
                         task_id=task_id, expected_version=expected_version, remember=remember)

    def claim(self, case_id: str, task_id: str, *, actor: str) -> None:
        """Take a task into one's own work list; a task claimed by someone else stays theirs."""
        self._run(case_id, actor, lambda case, uow: case.claim(task_id), task_id=task_id)

    def unclaim(self, case_id: str, task_id: str, *, actor: str, force: bool = False) -> None:
        """Give a task back to the shared work list (a supervisor may force it)."""
        self._run(case_id, actor, lambda case, uow: case.unclaim(task_id, force=force), task_id=task_id)

    def reassign(self, case_id: str, task_id: str, assignee: str, *, actor: str) -> None:
        """A supervisor gives an open task to a named clerk of the case's authority (whoever
        held it before); both accounts are read as they are now, so a disabled one is refused."""
        by, to = accounts.get_account(self.db, actor), accounts.get_account(self.db, assignee)
        self._run(case_id, actor, lambda case, uow: case.reassign(task_id, to=to, by=by),
                  task_id=task_id)

    def decide(self, case_id: str, outcome: str, *, actor: str, ground: str | None = None,
               data: dict[str, Any] | None = None, task_id: str | None = None) -> list[Opened]:
        """Complete the ready decision task: approve, or refuse naming a legal ground.

        `task_id` names the task when the caller has checked it already (its claim holds either way).
        """
        return self._run(case_id, actor, lambda case, uow: _recorded(case, uow).decide(
            outcome, ground, data, _task_of_kind(uow, case, "decision", task_id)), task_id=task_id)

    def issue_result(self, case_id: str, *, actor: str, data: dict[str, Any] | None = None,
                     task_id: str | None = None) -> list[Opened]:
        """Complete the ready issue task: the result is handed over."""
        return self._run(case_id, actor, lambda case, uow: case.issue_result(
            data, _task_of_kind(uow, case, "issue", task_id)), task_id=task_id)

    # ---------------------------------------------------------------- documents

    def record_document(self, case_id: str, document: str, status: str, *, actor: str) -> None:
        """Mark a listed document presented, requested from another body, or received."""
        if status not in DOCUMENT_STATUSES:
            raise InvalidInput(f"status must be one of {list(DOCUMENT_STATUSES)}", field="status")

        def apply(case: Case, uow: UnitOfWork) -> None:
            pending = (uow.cases.documents_pending(case.id, exclude=document)
                       if case.needs_pending_check(document, status) else None)
            case.record_document(document, status, others_pending=pending)
        self._run(case_id, actor, apply)

    def record_information(self, case_id: str, body: str, asked: str, *, actor: str,
                           received: bool = False) -> None:
        """Record a free request of documents or information from another body, or its answer."""
        self._run(case_id, actor,
                  lambda case, uow: case.record_information(body, asked, received=received))

    # ---------------------------------------------------------------- case lifecycle

    def withdraw(self, case_id: str, *, actor: str, reason: str | None = None) -> None:
        """The applicant withdraws the application: allowed at any time before the procedure ends."""
        self._run(case_id, actor, lambda case, uow: case.withdraw(reason))

    def refuse_acceptance(self, case_id: str, ground: str, *, actor: str) -> None:
        """Refuse to accept the application, on a ground of Law No. 433-З, before intake is done."""
        self._run(case_id, actor, lambda case, uow: case.refuse_acceptance(ground))

    def suspend(self, case_id: str, ground: str, *, actor: str) -> None:
        """Suspend where the definition allows it; the term stops running until resumed."""
        self._run(case_id, actor, lambda case, uow: case.suspend(ground))

    def resume(self, case_id: str, *, actor: str) -> None:
        """Resume a suspended case; its due date moves by the days it was suspended."""
        self._run(case_id, actor, lambda case, uow: case.resume())

    def close(self, case_id: str, *, actor: str) -> None:
        """Archive a case that has ended (completed, withdrawn or not accepted)."""
        self._run(case_id, actor, lambda case, uow: case.close())

    # ---------------------------------------------------------------- external tasks

    def fetch_and_lock(self, worker_id: str, topics: dict[str, int], max_tasks: int, *,
                       actor: str, authority: str | None = None) -> list[dict[str, Any]]:
        """Lock up to `max_tasks` waiting external tasks of `topics` (name -> lock duration, ms)
        for `worker_id` (of cases of `authority`, if given); each with its task's variables."""
        locked = external_store.fetch_and_lock(self.db, worker_id, topics, max_tasks, self.now(),
                                               authority)
        for row in locked:
            with self.unit_of_work(actor) as uow:
                task = external_tasks(uow.cases.get(row["case_id"]).workflow).get(row["id"])
            row["variables"] = _json_values(task.data) if task is not None else {}
        return locked

    def complete_external(self, task_id: str, worker_id: str,
                          variables: dict[str, Any] | None = None, *, actor: str,
                          authority: str | None = None) -> str:
        """The worker holding the lock on external task `task_id` completed it: the flow goes
        on; the case id."""
        _check_variables(variables)
        row = external_store.lock_holder(self.db, task_id, worker_id, self.now(), authority)
        self._run(row["case_id"], actor, lambda case, uow: case.complete_external(task_id, variables))
        return row["case_id"]

    def fail_external(self, task_id: str, worker_id: str, error_message: str, retries: int,
                      retry_timeout_ms: int, *, actor: str, authority: str | None = None) -> str:
        """The worker holding the lock reports a failure (audited); the case id."""
        row = external_store.lock_holder(self.db, task_id, worker_id, self.now(), authority)
        self._run(row["case_id"], actor, lambda case, uow: case.fail_external(
            task_id, error_message, retries, retry_timeout_ms))
        return row["case_id"]

    def reset_retries(self, task_id: str, retries: int, *, actor: str,
                      authority: str | None = None, case_id: str | None = None) -> str:
        """Staff give the incident `task_id` `retries` more (1..MAX_RETRIES): workers may fetch it
        again (audited); Conflict if it is no incident or is done; NotFound if it is not a task
        of `case_id` (when given). The case id."""
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 < retries <= MAX_RETRIES:
            raise InvalidInput(f"retries must be a whole number from 1 to {MAX_RETRIES}", field="retries")
        row = external_store.incident(self.db, task_id, authority)
        if case_id is not None and row["case_id"] != case_id:
            raise NotFound(f"no external task {task_id} is waiting in case {case_id}", field="task_id")
        self._run(row["case_id"], actor, lambda case, uow: case.reset_external(task_id, retries))
        return row["case_id"]

    def extend_lock(self, task_id: str, worker_id: str, duration_ms: int, *,
                    authority: str | None = None) -> datetime:
        """The lock `worker_id` holds on `task_id` runs `duration_ms` from now."""
        return external_store.extend_lock(self.db, task_id, worker_id, duration_ms, self.now(),
                                          authority)

    # ---------------------------------------------------------------- BPMN messages

    def deliver_message(self, case_id: str, name: str, variables: dict[str, Any] | None = None,
                        *, actor: str) -> list[Opened]:
        """Deliver the BPMN message `name` (with `variables`) to the event of the case waiting
        for it; Conflict(field="name") if none waits for that name."""
        if not isinstance(name, str) or not 0 < len(name) <= MAX_MESSAGE_NAME:
            raise InvalidInput(f"name must be 1 to {MAX_MESSAGE_NAME} characters", field="name")
        _check_variables(variables)
        return self._run(case_id, actor, lambda case, uow: case.deliver_message(name, variables))

    # ---------------------------------------------------------------- appeals (Law 300-З)

    def forward(self, case_id: str, to: str, *, actor: str, note: str | None = None) -> None:
        """Forward an appeal to the competent authority `to` (an authority of the catalog)."""
        names = dict(self.authorities()) if self.authorities else {}
        if to not in names:
            raise InvalidInput(f"no authority {to!r} in the authorities catalog", field="to")
        _check_note(note)
        self._run(case_id, actor, lambda case, uow: case.forward(to, names[to], note))

    def extend(self, case_id: str, extension: str, *, actor: str) -> None:
        """Extend the term as the definition allows (e.g. extra study of an appeal)."""
        self._run(case_id, actor, lambda case, uow: case.extend(extension))

    def leave(self, case_id: str, ground: str, *, actor: str, note: str | None = None) -> None:
        """Leave an appeal without consideration on the merits, on a ground of its definition."""
        _check_note(note)
        self._run(case_id, actor, lambda case, uow: case.leave(ground, note))

    def reply(self, case_id: str, outcome: str, reply: str, *, actor: str,
              task_id: str | None = None) -> list[Opened]:
        """Answer an appeal: complete its waiting reply (decision) step with an outcome of its
        definition and the reply's text, which its reply notice quotes."""
        try:
            return self.decide(case_id, outcome, actor=actor, data={"reply": reply}, task_id=task_id)
        except InvalidInput as exc:
            if exc.field == "data.reply":
                exc.field = "reply"
            raise

    # ---------------------------------------------------------------- moving to another version

    def migrate(self, case_id: str, to_version: str, *, actor: str,
                dry_run: bool = False) -> migration.Verdict:
        """Check whether a running case can move to the stored version `to_version` of its
        procedure and, unless `dry_run` or something blocks it, move it: one transaction, one
        audit event (engine.runtime.migration). A blocked case is left as it is."""
        target = self.versions.get(to_version)
        with self.unit_of_work(actor) as uow:
            case = uow.cases.get(case_id)
            verdict = migration.check_and_move(case, target)
            if verdict.moved and not dry_run:
                uow.commit()
            else:
                verdict.moved = False
        return verdict

    def migrate_procedure(self, number: str, to: str, *, actor: str,
                          dry_run: bool = False) -> list[migration.Verdict]:
        """`migrate` every running case of procedure `number` that is on another version than
        `to` (a version hash, a prefix of one, or "current"), oldest first, at most
        MAX_MIGRATED per call; each case in a transaction of its own."""
        target = self.resolve_version(number, to)
        with self.db.connect() as conn:
            ids = conn.execute(select(cases_table.c.id).where(
                cases_table.c.number == number, cases_table.c.version != target,
                cases_table.c.status.in_([s.value for s in ACTIVE]))
                .order_by(cases_table.c.started_at, cases_table.c.id).limit(MAX_MIGRATED)).scalars().all()
        verdicts = []
        for case_id in ids:
            try:
                verdicts.append(self.migrate(case_id, target, actor=actor, dry_run=dry_run))
            except Conflict:
                verdicts.append(migration.conflicted(case_id, target))
        return verdicts

    def resolve_version(self, number: str, to: str) -> str:
        """The stored version of `number` that `to` names: "current", a full hash or a prefix
        of at least 6 characters naming one version; InvalidInput(field="to") otherwise."""
        if not isinstance(to, str) or not 0 < len(to) <= 128:
            raise InvalidInput("to must be a version hash, a prefix of one, or \"current\"", field="to")
        history = self.versions.history(number)
        if not history:
            raise NotFound(f"procedure {number} is not in the catalog", field="number")
        if to == "current":
            return self.versions.current_versions()[number]
        if len(to) < MIN_PREFIX:
            raise InvalidInput(f"a version prefix has at least {MIN_PREFIX} characters", field="to")
        found = sorted({h["version"] for h in history if h["version"].startswith(to.lower())})
        if len(found) != 1:
            raise InvalidInput(f"{to!r} names {'no' if not found else 'more than one'} stored "
                               f"version of {number}", field="to")
        return found[0]

    # ---------------------------------------------------------------- the one shape of a command

    def _run(self, case_id: str, actor: str, apply: Callable[[Case, UnitOfWork], None], *,
             task_id: str | None = None, expected_version: int | None = None,
             remember: Remember | None = None) -> list[Opened]:
        with self.unit_of_work(actor, remember) as uow:
            case = uow.cases.get(case_id, task_id=task_id, expected_version=expected_version)
            apply(case, uow)
            uow.commit()
        return [] if case.noop else case.opened()


MAX_MESSAGE_NAME = 128  # characters of a BPMN message name
MAX_RETRIES = 100  # retries staff may give an incident (as a worker's failure may set)
MAX_MESSAGE_VARIABLES = 64  # names a delivered message sets
MAX_NOTE = 4000  # characters of a clerk's note a notice quotes
MAX_MIGRATED = 10_000  # running cases one migration call checks (run it again for more)
MIN_PREFIX = 6  # characters of a version hash that may name it


def _recorded(case: Case, uow: UnitOfWork) -> Case:
    """`case` with its stored documents loaded (intake and the decision check them)."""
    case.recorded = uow.cases.documents(case.id)
    return case

def _check_variables(variables: dict[str, Any] | None) -> None:
    if variables is not None and (not isinstance(variables, dict)
                                  or len(variables) > MAX_MESSAGE_VARIABLES):
        raise InvalidInput(f"variables must be an object of at most {MAX_MESSAGE_VARIABLES} "
                           f"names", field="variables")


def _json_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The plain JSON values of a task's data (what a worker receives as variables)."""
    return {k: v for k, v in data.items()
            if isinstance(k, str) and not k.startswith("_") and isinstance(v, (str, int, float, bool, type(None)))}


def _check_note(note: str | None) -> None:
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidInput(f"note must be text of at most {MAX_NOTE} characters", field="note")


def _task_of_kind(uow: UnitOfWork, case: Case, kind: str, task_id: str | None) -> Task:
    """The ready task of `kind` (the one named, if any), held to its claim like any task."""
    if task_id is not None:
        return case.check_kind(case.ready_task(task_id), kind)
    for tid, task in case.ready_of_kind(kind):
        case.assignee = uow.cases.assignee(tid)
        case.check_claim()
        return task
    raise NotAllowed(f"no {kind} step is waiting in this case")

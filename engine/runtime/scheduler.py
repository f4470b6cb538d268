"""The scheduler: fires due timers and marks overdue cases, found through indexes only (never by
loading every case), forgets expired Idempotency-Keys and signs a checkpoint of the audit log;
`run_worker` is its loop.

`okno worker` stops on SIGTERM or SIGINT (`stop_on_signals`): the round in progress finishes (each
case in it is one unit of work, and a round is bounded by the limits below), then the loop ends and
the process exits 0. A process killed mid-round loses only the unit of work it was in: its
transaction rolls back, and the next round (of any worker) finds the same due timer or overdue
case again."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from engine import idempotency as keys
from engine.errors import Conflict, NotAllowed, OknoError
from engine.runtime.case import Case
from engine.runtime.commands import Cases
from engine.statuses import CaseStatus
from engine.store.tables import cases as cases_table
from engine.store.tables import timers

log = logging.getLogger("okno.worker")
WORKER = "system:worker"


def fire_due_timers(cases: Cases, *, actor: str = WORKER, limit: int = 500) -> int:
    """Fire the timers due by the clock, found through the timers index; returns the cases in
    which timers fired. A case that fails is logged and skipped: it never holds up others.
    Timers of a suspended case wait until it is resumed."""
    with cases.db.connect() as conn:
        due = conn.execute(select(timers.c.case_id).where(timers.c.due_at < cases.now())
                           .group_by(timers.c.case_id).order_by(func.min(timers.c.due_at))
                           .limit(limit)).scalars().all()
    # A Conflict means a clerk's command won: the timer is still due and fires next round.
    return _each(cases, due, Case.fire_timers, actor, quiet=(Conflict,), what="timers")


def mark_overdue(cases: Cases, *, actor: str = WORKER, limit: int = 1000) -> int:
    """Mark open cases whose due date has passed; found through the (status, overdue, due) index."""
    c = cases_table.c
    with cases.db.connect() as conn:
        ids = conn.execute(select(c.id).where(
            c.status == CaseStatus.OPEN.value, c.overdue.is_(False), c.due_date < cases.clock.today(),
        ).limit(limit)).scalars().all()
    return _each(cases, ids, Case.mark_overdue, actor, quiet=(Conflict, NotAllowed), what="overdue mark")


def _each(cases: Cases, ids: list[str], command: Callable[[Case], None], actor: str, *,
          quiet: tuple[type[OknoError], ...], what: str) -> int:
    """Run `command` on each case, one unit of work each; returns how many were written. A case
    that fails never holds up the others: `quiet` errors are expected races, others are logged."""
    done = 0
    for case_id in ids:
        try:
            with cases.unit_of_work(actor) as uow:
                command(uow.cases.get(case_id))
                uow.commit()
            done += 1
        except quiet:
            continue
        except OknoError as exc:
            log.warning("%s of case %s not written: %s", what, case_id, exc.detail)
    return done


def sweep(cases: Cases, retention: timedelta = keys.DEFAULT_RETENTION) -> tuple[int, int]:
    """One round: (timers fired, cases marked overdue); Idempotency-Keys older than `retention`
    are purged too, and the audit log is checkpointed."""
    fired = fire_due_timers(cases)
    marked = mark_overdue(cases)
    if fired or marked:
        log.info("fired %d timer(s), marked %d case(s) overdue", fired, marked)
    purge_idempotency_keys(cases, retention)
    checkpoint_audit_log(cases)
    return fired, marked


def checkpoint_audit_log(cases: Cases) -> None:
    """Seal old cases (a batch, once after migration 0009) and sign the audit log's head into the
    checkpoint folder if the log grew since the last sweep (engine.audit.checkpoints)."""
    written = cases.ledger.checkpoint(cases.db, cases.now())
    if written is not None:
        log.info("audit checkpoint: %d event(s), root %s", written.size, written.root[:16])


def purge_idempotency_keys(cases: Cases, retention: timedelta = keys.DEFAULT_RETENTION) -> int:
    """Delete the Idempotency-Keys older than `retention` (by the cases' clock)."""
    purged = keys.purge_keys(cases.db, cases.clock.now() - retention)
    if purged:
        log.info("forgot %d expired idempotency key(s)", purged)
    return purged


def run_worker(cases: Cases, interval: float = 30.0, stop: threading.Event | None = None,
               retention: timedelta = keys.DEFAULT_RETENTION) -> None:
    """Sweep every `interval` seconds until `stop` is set; a failed round is logged and retried.
    `retention`: how long Idempotency-Keys are kept (the `idempotency_hours` setting). A round
    in progress when `stop` is set is finished first."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            sweep(cases, retention)
        except Exception:  # keep the loop alive; the next round retries what failed
            log.exception("worker round failed")
        stop.wait(interval)
    log.info("worker stopped")


def stop_on_signals(signums: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
                    ) -> threading.Event:
    """An Event set when one of `signums` arrives (from then on they only set it): what
    `run_worker` stops on in `okno worker`. Call it from the main thread."""
    stop = threading.Event()

    def handle(signum: int, _frame) -> None:
        if not stop.is_set():
            log.info("%s: stopping after the round in progress", signal.Signals(signum).name)
        stop.set()

    for signum in signums:
        signal.signal(signum, handle)
    return stop

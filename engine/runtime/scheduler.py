"""The scheduler: fires due timers and marks overdue cases, found through indexes only (never by
loading every case), forgets expired Idempotency-Keys and sign-in counts, signs a checkpoint of
the audit log, delivers the notices waiting in the outbox (engine/notices/outbox.py) and
notes when it last swept; `run_worker` is its loop.

Several workers at once. Each due case is *claimed* before it is worked on, in the transaction
that does the work (`UnitOfWork.claim`): on PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` locks the
case row and its due timers, re-checking that they are still due, and the case is read and
written in that same transaction. A case another worker holds is skipped (not waited for); one it
finished is no longer due when the lock is taken. So with N workers each timer fires and each
overdue mark is written exactly once, the workers share the due cases between them, and a worker
that dies mid-case leaves nothing claimed (its transaction is rolled back; no lease to expire).
Row locks rather than a claim column with a lease: nothing to clean up after a crash, no clock to
trust, no extra write per case. Under the claim, the write's own row-version check still stands
(a clerk's command that got there first wins; the case is due again next round).

SQLite has no row locks: one writer at a time is guaranteed by the database, and the claim only
re-checks that the work is still due. The SQLite path is correct with one worker. With two, each
timer still fires exactly once (the loser's write finds the row version moved: Conflict, nothing
written), but both workers compute the same cases and half of that work is thrown away: run one.

The other sweeps are safe with N workers too: the key and sign-in purges delete rows by a
condition (a row two workers both pick is deleted once; the other deletes fewer), sealing a legacy
case is guarded by its row version, and the audit checkpoint takes a file lock in its folder (two
workers sharing a folder write one checkpoint at a time; workers on different hosts keep separate
folders, each a complete record of its own).

`okno worker` stops on SIGTERM or SIGINT (`stop_on_signals`): the round in progress finishes (each
case in it is one unit of work, and a round is bounded by the limits below), then the loop ends and
the process exits 0. A process killed mid-round loses only the unit of work it was in: its
transaction rolls back, and the next round (of any worker) finds the same due timer or overdue
case again.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine import idempotency as keys
from engine import signin_throttle
from engine.errors import Conflict, NotAllowed, OknoError
from engine.notices.outbox import Outbox, deliver_notices
from engine.runtime.case import Case
from engine.runtime.commands import Cases
from engine.statuses import CaseStatus
from engine.store.tables import cases as cases_table
from engine.store.tables import timers, worker_sweeps

log = logging.getLogger("okno.worker")
WORKER = "system:worker"
FORGET_WORKERS_AFTER = timedelta(days=7)


def worker_name() -> str:
    """This worker's name in `worker_sweeps`: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def fire_due_timers(cases: Cases, *, actor: str = WORKER, limit: int = 500) -> int:
    """Fire the timers due by the clock, found through the timers index; returns the cases in
    which timers fired (by this worker). A case that fails is logged and skipped: it never holds
    up others. Timers of a suspended case wait until it is resumed (they are not picked)."""
    with cases.db.connect() as conn:
        due = conn.execute(select(timers.c.case_id)
                           .join(cases_table, cases_table.c.id == timers.c.case_id)
                           .where(timers.c.due_at < cases.now(),
                                  cases_table.c.status == CaseStatus.OPEN.value)
                           .group_by(timers.c.case_id).order_by(func.min(timers.c.due_at))
                           .limit(limit)).scalars().all()
    # A Conflict means a clerk's command won: the timer is still due and fires next round.
    return _each(cases, due, "timers", Case.fire_timers, actor, quiet=(Conflict,), what="timers")


def mark_overdue(cases: Cases, *, actor: str = WORKER, limit: int = 1000) -> int:
    """Mark open cases whose due date has passed; found through the (status, overdue, due) index.
    Returns how many this worker marked."""
    c = cases_table.c
    with cases.db.connect() as conn:
        ids = conn.execute(select(c.id).where(
            c.status == CaseStatus.OPEN.value, c.overdue.is_(False), c.due_date < cases.clock.today(),
        ).limit(limit)).scalars().all()
    return _each(cases, ids, "overdue", Case.mark_overdue, actor, quiet=(Conflict, NotAllowed),
                 what="overdue mark")


def _each(cases: Cases, ids: list[str], work: str, command: Callable[[Case], None], actor: str, *,
          quiet: tuple[type[OknoError], ...], what: str) -> int:
    """Claim each case for `work` and run `command` on it, one unit of work each; returns how
    many were written. A case no longer due or held by another worker is skipped; a case that
    fails never holds up the others: `quiet` errors are expected races, others are logged."""
    done = 0
    for case_id in ids:
        try:
            with cases.unit_of_work(actor) as uow, uow.claim(work, case_id) as mine:
                if not mine:
                    continue
                command(uow.cases.get(case_id))
                uow.commit()
            done += 1
        except quiet:
            continue
        except OknoError as exc:
            log.warning("%s of case %s not written: %s", what, case_id, exc.detail)
    return done


def sweep(cases: Cases, retention: timedelta = keys.DEFAULT_RETENTION,
          worker: str | None = None, *, outbox: Outbox | None = None) -> tuple[int, int]:
    """One round: (timers fired, cases marked overdue); Idempotency-Keys older than `retention`
    and expired sign-in counts are purged too, the audit log is checkpointed, the notices due are
    sent (`outbox`), and the round is noted under `worker` (default: this host and process) in
    `worker_sweeps`."""
    fired = fire_due_timers(cases)
    marked = mark_overdue(cases)
    if fired or marked:
        log.info("fired %d timer(s), marked %d case(s) overdue", fired, marked)
    purge_idempotency_keys(cases, retention)
    purge_signin_counts(cases)
    checkpoint_audit_log(cases)
    deliver_notices(outbox, cases.now)
    note_sweep(cases, worker or worker_name())
    return fired, marked


def purge_signin_counts(cases: Cases) -> int:
    """Delete the sign-in counters whose window has ended (wall-clock, like the counts)."""
    purged = signin_throttle.purge_expired(cases.db)
    if purged:
        log.info("forgot %d expired sign-in count(s)", purged)
    return purged


def note_sweep(cases: Cases, worker: str) -> None:
    """Write when `worker` finished a sweep (the worker lag GET /metrics reports), and forget
    workers not seen for `FORGET_WORKERS_AFTER`."""
    now, w = cases.now(), worker_sweeps.c
    writes = cases.db.execution_options(okno_write=True)  # BEGIN IMMEDIATE on SQLite
    try:
        with writes.begin() as conn:
            if not conn.execute(update(worker_sweeps).where(w.worker == worker)
                                .values(swept_at=now)).rowcount:
                conn.execute(insert(worker_sweeps).values(worker=worker, swept_at=now))
    except IntegrityError:  # its first sweep, noted by another thread of the same name just now
        with writes.begin() as conn:
            conn.execute(update(worker_sweeps).where(w.worker == worker).values(swept_at=now))
    with writes.begin() as conn:
        conn.execute(delete(worker_sweeps).where(w.swept_at < now - FORGET_WORKERS_AFTER))


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
               retention: timedelta = keys.DEFAULT_RETENTION, outbox: Outbox | None = None) -> None:
    """Sweep every `interval` seconds until `stop` is set; a failed round is logged and retried.
    `retention`: how long Idempotency-Keys are kept (the `idempotency_hours` setting); `outbox`:
    where notices are sent from (the `smtp_*` settings). A round in progress when `stop` is set
    is finished first."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            sweep(cases, retention, outbox=outbox)
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

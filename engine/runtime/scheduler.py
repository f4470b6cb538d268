"""The scheduler loop: fires due timers and marks overdue cases, through indexes only, and
forgets expired Idempotency-Keys."""
from __future__ import annotations

import logging
import threading

from engine import idempotency as keys
from engine.runtime.commands import Cases

log = logging.getLogger("okno.worker")


def sweep(cases: Cases) -> tuple[int, int]:
    """One round: (timers fired, cases marked overdue); expired Idempotency-Keys are purged too."""
    fired = cases.fire_due_timers()
    marked = cases.mark_overdue()
    if fired or marked:
        log.info("fired %d timer(s), marked %d case(s) overdue", fired, marked)
    purge_idempotency_keys(cases)
    return fired, marked


def purge_idempotency_keys(cases: Cases) -> int:
    """Delete the Idempotency-Keys older than the retention period (by the cases' clock)."""
    purged = keys.purge_keys(cases.db, cases.clock.now() - keys.idempotency_retention())
    if purged:
        log.info("forgot %d expired idempotency key(s)", purged)
    return purged


def run_worker(cases: Cases, interval: float = 30.0, stop: threading.Event | None = None) -> None:
    """Sweep every `interval` seconds until `stop` is set; a failed round is logged and retried."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            sweep(cases)
        except Exception:  # keep the loop alive; the next round retries what failed
            log.exception("worker round failed")
        stop.wait(interval)

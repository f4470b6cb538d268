"""Delivering notices: the worker claims due outbox rows, sends each over SMTP and records what
happened, so that a notice is sent once and a failed delivery is retried and visible.

One row at a time:

1. **claim** (a write transaction of its own): a row `pending`, or `sending` whose lease ran out,
   with `next_attempt_at <= now`, becomes `sending` with a fresh `claim` token, `attempts + 1` and
   `next_attempt_at` = the end of its lease. The UPDATE repeats the conditions it read, so of two
   workers that read the same row only one changes it (SQLite: one writer at a time; PostgreSQL:
   the second UPDATE waits for the first and re-checks them).
2. **send**, outside any transaction (engine/notices/mail.py).
3. **finish** (one UPDATE, only while `claim` is still ours): `sent` with `sent_at`; or, on a
   failure, `pending` again with `next_attempt_at` backed off exponentially (1 min, 2, 4, … at most
   1 h) and `last_error` kept; after the last attempt allowed, `failed` (`okno notices retry`).

Sending is at least once, never more than once per worker, but not exactly once: no protocol
makes an SMTP hand-over and a database commit one act. A worker that stops after the server
accepted a message and before step 3 committed leaves the row `sending`; when its lease runs out
another round sends it again, with the same Message-ID (`mail.message_id`), so the receiving side
can drop the copy. The window is the time between the server's "250 OK" and one UPDATE.

A round sends at most 100 rows and claims no new one after 60 s; it stops at the first failure
that is the server's rather than the message's (unreachable, TLS, login, sender refused, 421):
the rows after it would fail the same way, so they keep their attempts for the next sweep, and a
dead server costs a sweep one timeout, not one per notice.

No SMTP server configured (`smtp_host` unset): nothing is sent, rows stay `pending`, and the worker
logs how many wait whenever that number changes; `/notices` and `okno notices list` show them.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Engine

from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.notices import mail
from engine.notices.mail import DeliveryError, SmtpConfig
from engine.statuses import OutboxStatus
from engine.store.tables import cases, notices, outbox

log = logging.getLogger("okno.notices")

DEFAULT_ATTEMPTS = 8  # with the back-off below: the last one about 2 h after the first
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
LEASE_MIN = timedelta(minutes=5)
BATCH = 100  # rows one round sends at most; the rest wait for the next round
ROUND_SECONDS = 60.0  # a round claims no new row after this long (the sweep has timers to fire)
DUE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1 min doubling, at most 1 h."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 20))


def lease(timeout: float) -> timedelta:
    """How long a claimed row is ours: well over one SMTP conversation (each of its ~10 steps
    may take `timeout` seconds), and at least 5 minutes."""
    return max(LEASE_MIN, timedelta(seconds=12 * timeout))


class Claimed(NamedTuple):
    """A row this worker holds: what to send, and the token that lets it record the outcome."""

    notice_id: str
    address: str
    title: str
    body: str
    message_id: str
    attempts: int  # this attempt's number, from 1
    claim: str


class Round(NamedTuple):
    """What one round did: sent, put back to retry later, failed for good, left waiting (no
    SMTP server configured)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0


@dataclass
class Outbox:
    """The worker's side of the outbox: its database, the SMTP server (None: send nothing) and
    how many attempts a notice gets."""

    db: Engine
    mail: SmtpConfig | None
    attempts: int = DEFAULT_ATTEMPTS
    batch: int = BATCH
    budget: float = ROUND_SECONDS  # a round claims no new row after this long
    _warned: int = 0  # the number of waiting rows last logged with no server configured

    def deliver(self, now: Callable[[], datetime]) -> Round:
        """One round: send the due rows (at most `batch`), each claimed at `now()`. The round
        ends early when the server itself fails (the rest would fail the same way: they keep
        their attempts) or after `budget` seconds, so that a slow or unreachable server never
        holds up the sweep's timers for long."""
        if self.mail is None:
            return self._unconfigured()
        sent = retrying = failed = 0
        started = time.monotonic()
        for index, notice_id in enumerate(due(self.db, now(), self.batch)):
            if index and time.monotonic() - started > self.budget:
                log.info("notices: the round's %.0f s are spent; the rest wait for the next sweep",
                         self.budget)
                break
            claimed = claim(self.db, notice_id, now(), self.mail, self.attempts)
            if claimed is None:  # another worker took it, or it ran out of attempts
                continue
            error, allowed, server_failed = None, self.attempts, False
            try:
                message = mail.compose(claimed._asdict(), claimed.address, self.mail.sender,
                                       now().astimezone(UTC), claimed.message_id)
            except InvalidInput as exc:  # an address no attempt can send to: failed at once
                error, allowed = f"the address cannot be used: {exc.detail}", claimed.attempts
            else:
                try:
                    mail.send(self.mail, message)
                except DeliveryError as exc:
                    error, server_failed = str(exc), exc.server_failed
            status = finish(self.db, claimed, now(), error, allowed)
            if status == OutboxStatus.SENT:
                sent += 1
            elif status == OutboxStatus.FAILED:
                failed += 1
                log.warning("notice %s to %s failed after %d attempt(s): %s", notice_id,
                            claimed.address, claimed.attempts, error)
            elif status == OutboxStatus.PENDING:
                retrying += 1
                log.info("notice %s to %s: attempt %d failed (%s), retried later", notice_id,
                         claimed.address, claimed.attempts, error)
            if server_failed:
                log.warning("notices: the SMTP server failed (%s); the round stops, the rest "
                            "wait for the next sweep", error)
                break
        return Round(sent=sent, retrying=retrying, failed=failed)

    def _unconfigured(self) -> Round:
        with self.db.connect() as conn:
            waiting = conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.status == OutboxStatus.PENDING.value)).scalar_one()
        if waiting != self._warned:
            if waiting:
                log.warning("%d notice(s) wait in the outbox: no SMTP server is configured "
                            "(OKNO_SMTP_HOST)", waiting)
            self._warned = waiting
        return Round(waiting=waiting)


def deliver_notices(box: Outbox | None, now: Callable[[], datetime]) -> Round:
    """The worker's step: one round of `box` (None: a sweep run without one, e.g. in tests of
    timers, delivers nothing)."""
    if box is None:
        return Round()
    delivered = box.deliver(now)
    if delivered.sent or delivered.retrying or delivered.failed:
        log.info("notices: %d sent, %d to retry, %d failed", delivered.sent, delivered.retrying,
                 delivered.failed)
    return delivered


def due(db: Engine, now: datetime, limit: int = BATCH) -> list[str]:
    """The ids of rows due at `now` (pending, or sending with an expired lease), oldest first,
    found through the (status, next_attempt_at) index."""
    now = now.astimezone(UTC)
    with db.connect() as conn:
        return list(conn.execute(
            select(outbox.c.notice_id)
            .where(outbox.c.status.in_(DUE), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at).limit(limit)).scalars())


_ROW = (select(outbox.c.status, outbox.c.attempts, outbox.c.claim, outbox.c.next_attempt_at,
               outbox.c.address, outbox.c.message_id, notices.c.title, notices.c.body)
        .select_from(outbox.join(notices, notices.c.id == outbox.c.notice_id)))


def claim(db: Engine, notice_id: str, now: datetime, config: SmtpConfig,
          attempts_allowed: int = DEFAULT_ATTEMPTS) -> Claimed | None:
    """Take row `notice_id` for one attempt if it is due and nobody holds it; None otherwise. A
    row whose last attempt allowed lost its worker (lease ran out) becomes `failed` instead."""
    now = now.astimezone(UTC)
    with db.execution_options(okno_write=True).begin() as conn:
        row = conn.execute(_ROW.where(outbox.c.notice_id == notice_id)).one_or_none()
        if row is None or row.status not in DUE or _utc(row.next_attempt_at) > _utc(now):
            return None
        seen = and_(outbox.c.notice_id == notice_id, outbox.c.status == row.status,
                    outbox.c.claim.is_(None) if row.claim is None else outbox.c.claim == row.claim,
                    outbox.c.next_attempt_at <= now)
        if row.status == OutboxStatus.SENDING and row.attempts >= attempts_allowed:
            conn.execute(update(outbox).where(seen).values(
                status=OutboxStatus.FAILED.value, claim=None, next_attempt_at=now,
                last_error=f"attempt {row.attempts} stopped before its outcome was recorded "
                           "(the worker ended?); the message may have been delivered"))
            return None
        token = str(uuid.uuid4())
        message_id = row.message_id or mail.message_id(notice_id, config.sender)
        changed = conn.execute(update(outbox).where(seen).values(
            status=OutboxStatus.SENDING.value, claim=token, attempts=row.attempts + 1,
            next_attempt_at=now + lease(config.timeout), message_id=message_id)).rowcount
    if changed != 1:
        return None
    return Claimed(notice_id, row.address, row.title, row.body, message_id, row.attempts + 1, token)


def finish(db: Engine, claimed: Claimed, now: datetime, error: str | None,
           attempts_allowed: int = DEFAULT_ATTEMPTS) -> OutboxStatus | None:
    """Record the attempt's outcome and end the claim, in one UPDATE; None if the claim was lost
    (the lease ran out and another worker took the row: it may send the notice again)."""
    now = now.astimezone(UTC)
    values: dict[str, Any] = {"claim": None}
    if error is None:
        status = OutboxStatus.SENT
        values.update(sent_at=now, next_attempt_at=now)
    else:
        status = OutboxStatus.FAILED if claimed.attempts >= attempts_allowed else OutboxStatus.PENDING
        values.update(last_error=error, next_attempt_at=now if status == OutboxStatus.FAILED
                      else now + backoff(claimed.attempts))
    with db.execution_options(okno_write=True).begin() as conn:
        changed = conn.execute(update(outbox).where(
            outbox.c.notice_id == claimed.notice_id, outbox.c.claim == claimed.claim,
            outbox.c.status == OutboxStatus.SENDING.value).values(status=status.value, **values)).rowcount
    if changed != 1:
        log.warning("notice %s: the claim of attempt %d was lost before its outcome (%s) was "
                    "recorded; another worker sends it (Message-ID %s)", claimed.notice_id,
                    claimed.attempts, "sent" if error is None else error, claimed.message_id)
        return None
    return status


def retry(db: Engine, notice_id: str, now: datetime, authority: str | None = None) -> None:
    """Give a `failed` notice a fresh set of attempts, the first at once; its last error stays
    until an attempt succeeds. NotFound: no such row (or, given `authority`, none of a case of
    that authority); NotAllowed: the row has not failed."""
    now = now.astimezone(UTC)
    stmt = (select(outbox.c.status)
            .select_from(outbox.join(notices, notices.c.id == outbox.c.notice_id)
                         .join(cases, cases.c.id == notices.c.case_id))
            .where(outbox.c.notice_id == notice_id))
    if authority is not None:
        stmt = stmt.where(cases.c.authority == authority)
    with db.execution_options(okno_write=True).begin() as conn:
        status = conn.execute(stmt).scalar()
        if status is None:
            raise NotFound(f"no notice {notice_id} in the outbox", field="notice_id")
        if status != OutboxStatus.FAILED:
            raise NotAllowed(f"notice {notice_id} is {status}, not failed: nothing to retry",
                             field="notice_id")
        conn.execute(update(outbox).where(outbox.c.notice_id == notice_id,
                                          outbox.c.status == OutboxStatus.FAILED.value)
                     .values(status=OutboxStatus.PENDING.value, attempts=0, claim=None,
                             next_attempt_at=now))


def _utc(at: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives it back without its offset)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

"""Failed sign-ins counted in the database, so every server process shares one limit.

An attempt is counted against three counters before its password is checked (so concurrent
guesses cannot slip past the count): the user name from this client address, the name from all
addresses, and the address whatever the names (the address's /64 for IPv6). Each counter is one
row of `signin_attempts` holding its failures in a window that began with its first failure and
ends `window` seconds later (`expires_at`). A counter that has reached its limit refuses until
its window ends; after that its next failure starts a new window. Within any one window's span a
counter therefore lets at most twice its limit (less one) through (the end of one window and the
start of the next), and its limit per window on average.

Counting is one statement per counter, portable: `INSERT … ON CONFLICT (key) DO UPDATE … WHERE
the window has ended OR failures < limit RETURNING failures` (SQLite ≥ 3.35 and PostgreSQL
share this syntax); it returns no row exactly when the counter refuses. The three run in one transaction in key
order (no deadlock between two processes), and a refusal rolls the others back: a refused
attempt counts for nothing. A success forgets the name-from-address counter and takes the
attempt back from the address's (an office behind one address signs in all day); the name's
count over all addresses stays, since it is what slows a guess spread over many addresses.

Bounded: only an attempt that got a hashing slot is counted (api.auth.PasswordChecks: two
hashes at once per process, a few tenths of a second each), so rows appear at most three per
hash; a refused attempt writes none. Each attempt also deletes up to `PURGE_PER_ATTEMPT` expired
rows, more than it can add, and the worker deletes every expired row on each sweep (`purge`). So
the table holds about what was counted within one window, however many addresses an attacker
cycles through; a key longer than `MAX_KEY` characters is stored as its hash.

Time is `clock()`, wall-clock epoch seconds (shared between processes and hosts; tests pass
their own).
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from engine.store.tables import signin_attempts as attempts_table

MAX_KEY = 200
PURGE_PER_ATTEMPT = 4  # more than the three rows an attempt may add
t = attempts_table.c


@dataclass(frozen=True, slots=True)
class Held:
    """A refused attempt: `wait` seconds until the counter's window ends; `by_name` whether it
    was a counter of the user name (else of the address)."""

    wait: int
    by_name: bool


def _upsert(dialect: str):
    """The counting statement for `dialect` (the same SQL for SQLite and PostgreSQL)."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"sign-in counting has no statement for {dialect}")
    ended = t.expires_at <= bindparam("now")
    stmt = insert(attempts_table).values(key=bindparam("key"), failures=1,
                                         expires_at=bindparam("expires"))
    return stmt.on_conflict_do_update(
        index_elements=[t.key],
        set_={"failures": case((ended, 1), else_=t.failures + 1),
              "expires_at": case((ended, bindparam("expires")), else_=t.expires_at)},
        where=or_(ended, t.failures < bindparam("limit"))).returning(t.failures)


class SignInThrottle:
    """The three counters of a sign-in, in the database `db`; the limits are per `window`
    seconds: `attempts` for a name from one address, `name_attempts` for a name from all
    addresses, `address_attempts` for an address whatever the names."""

    def __init__(self, db: Engine, attempts: int = 5, window: float = 15 * 60, *,
                 name_attempts: int = 100, address_attempts: int = 50,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.window, self.clock = db, window, clock
        self.attempts, self.name_attempts, self.address_attempts = (
            attempts, name_attempts, address_attempts)
        self._count = _upsert(db.dialect.name)
        self._writes = db.execution_options(okno_write=True)  # BEGIN IMMEDIATE on SQLite

    def counters(self, name: str, client: str) -> list[tuple[str, int, bool]]:
        """(key, limit, by_name) of each counter an attempt for `name` from `client` counts
        against, in key order."""
        here, everywhere, address = _keys(name, client)
        return sorted(((here, self.attempts, True), (everywhere, self.name_attempts, True),
                       (address, self.address_attempts, False)))

    def attempt(self, name: str, client: str = "") -> Held | None:
        """Count an attempt to sign in as `name` from `client`: None if counted, else what
        holds it back (and nothing is counted)."""
        now = self.clock()
        try:
            with self._writes.begin() as conn:
                for key, limit, by_name in self.counters(name, client):
                    params = {"key": key, "now": now, "expires": now + self.window, "limit": limit}
                    if conn.execute(self._count, params).first() is None:
                        expires = conn.execute(select(t.expires_at).where(t.key == key)).scalar()
                        raise _Refused(Held(max(1, math.ceil((expires or now) - now)), by_name))
            held = None
        except _Refused as refused:  # rolled back: a refused attempt counts for nothing
            held = refused.held
        self._purge_batch(now, PURGE_PER_ATTEMPT)
        return held

    def succeeded(self, name: str, client: str = "") -> None:
        """`name` signed in from `client`: forget that client's failures for the name, and take
        this attempt back from the address's count."""
        here, _, address = _keys(name, client)
        with self._writes.begin() as conn:
            conn.execute(delete(attempts_table).where(t.key == here))
            conn.execute(update(attempts_table).where(t.key == address, t.failures > 0)
                         .values(failures=t.failures - 1))

    def purge(self, batch: int = 1000) -> int:
        """Delete every expired counter, `batch` rows per transaction; how many."""
        total, now = 0, self.clock()
        while True:
            deleted = self._purge_batch(now, batch)
            total += deleted
            if deleted < batch:
                return total

    def _purge_batch(self, now: float, batch: int) -> int:
        """Delete up to `batch` counters expired by `now`. Rows another transaction holds are
        skipped (PostgreSQL), so a purge never waits for a sign-in, nor deadlocks with one."""
        picked = (select(t.key).where(t.expires_at <= now).limit(batch)
                  .with_for_update(skip_locked=True))
        with self._writes.begin() as conn:
            return conn.execute(delete(attempts_table).where(
                t.key.in_(picked), t.expires_at <= now)).rowcount


class _Refused(Exception):
    def __init__(self, held: Held) -> None:
        self.held = held


def purge_expired(db: Engine, now: float | None = None) -> int:
    """Delete every expired counter (the worker's sweep); how many."""
    return SignInThrottle(db, clock=(lambda: now) if now is not None else time.time).purge()


def _keys(name: str, client: str) -> tuple[str, str, str]:
    """The counters' keys: the name from this client, the name from anywhere, the address."""
    name = _name_key(name)
    return (_key(f"{client}\x1f{name}"), _key(f"*\x1f{name}"), _key(f"{address_key(client)}\x1e"))


def address_key(client: str) -> str:
    """The address the per-address limit counts under: an IPv6 client's /64 (one host's usual
    share: it may take any address in it), an IPv4-mapped address as IPv4, else as it is."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _name_key(name: str) -> str:
    """The name counted under: case-folded; a name longer than any user's (128) as its hash."""
    name = name.casefold()
    if len(name) <= 128:
        return name
    return "#" + _digest(name)


def _key(key: str) -> str:
    return key if len(key) <= MAX_KEY else "#" + _digest(key)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

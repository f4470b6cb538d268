"""Failed sign-ins counted in the database (engine/signin_throttle.py): one limit for every
process, checked and bumped atomically, and a table that stays small.

Each test runs on a real SQLite file and, when the suite is pointed at one
(`OKNO_TEST_DATABASE_URL`), on a fresh PostgreSQL database. The throttle's clock is moved by
hand; "processes" are separate engines (own connection pools) on the same database.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine.signin_throttle import Held, SignInThrottle, purge_expired
from engine.store.connect import connect
from engine.store.tables import signin_attempts
from tests.postgres import fresh_database


class Clock:
    def __init__(self) -> None:
        self.t = 1_750_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'okno.db'}"
    else:
        with fresh_database("okno_throttle") as pg:
            yield pg


def rows(db) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(signin_attempts)).scalar_one()


def test_a_counter_refuses_at_its_limit_until_its_window_ends(url) -> None:
    db, clock = connect(url), Clock()
    throttle = SignInThrottle(db, attempts=3, window=600, clock=clock)
    for _ in range(3):
        assert throttle.attempt("clerk", "203.0.113.9") is None
        clock.t += 10
    assert throttle.attempt("Clerk", "203.0.113.9") == Held(wait=570, by_name=True)
    assert throttle.attempt("clerk", "198.51.100.4") is None  # another address is not held up
    clock.t += 570  # the window that began with the first failure is over: a new one
    assert throttle.attempt("clerk", "203.0.113.9") is None


def test_a_refused_attempt_counts_for_nothing(url) -> None:
    db, clock = connect(url), Clock()
    throttle = SignInThrottle(db, attempts=2, address_attempts=3, clock=clock)
    throttle.attempt("clerk", "203.0.113.9")
    throttle.attempt("clerk", "203.0.113.9")
    for _ in range(5):  # held by the name-from-address counter: the address's is rolled back
        assert throttle.attempt("clerk", "203.0.113.9").by_name
    assert throttle.attempt("another", "203.0.113.9") is None  # the address counted 3 in all
    assert throttle.attempt("third", "203.0.113.9") == Held(wait=900, by_name=False)


def test_a_success_clears_its_names_count_here_and_gives_the_address_its_attempt_back(url) -> None:
    db, clock = connect(url), Clock()
    throttle = SignInThrottle(db, attempts=2, name_attempts=3, address_attempts=2, clock=clock)
    throttle.attempt("clerk", "10.0.0.7")
    throttle.attempt("clerk", "10.0.0.7")
    throttle.succeeded("clerk", "10.0.0.7")  # the second attempt was the right password
    assert throttle.attempt("clerk", "10.0.0.7") is None  # the name here starts over; address 2
    assert throttle.attempt("clerk", "10.0.0.8").by_name  # the name's count everywhere stayed: 3


def test_two_processes_share_one_limit_and_concurrent_guesses_cannot_pass_it(url) -> None:
    clock = Clock()
    processes = [SignInThrottle(connect(url), attempts=5, clock=clock) for _ in range(2)]
    results: list[Held | None] = []
    lock, start = threading.Lock(), threading.Barrier(8)

    def guess(throttle: SignInThrottle) -> None:
        start.wait()
        for _ in range(5):
            held = throttle.attempt("clerk", "203.0.113.9")
            with lock:
                results.append(held)

    threads = [threading.Thread(target=guess, args=(processes[n % 2],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 40 and results.count(None) == 5  # exactly the limit, in all
    assert processes[0].attempt("clerk", "203.0.113.9") is not None


def test_an_attacker_cycling_addresses_cannot_grow_the_table(url) -> None:
    db, clock = connect(url), Clock()
    throttle = SignInThrottle(db, window=60, clock=clock)
    for n in range(100):  # one window's worth: 3 counters each, all live
        throttle.attempt(f"name-{n}", f"198.51.100.{n}")
    assert rows(db) == 300
    for rounds in range(3):  # every later window: each attempt deletes more expired rows than it adds
        clock.t += 61
        for n in range(100):
            throttle.attempt(f"other-{rounds}-{n}", f"203.0.113.{n}")
        assert rows(db) <= 600
    clock.t += 61
    assert purge_expired(db, clock.t) > 0  # the worker's sweep: every expired row
    assert rows(db) == 0


def test_a_long_name_or_client_is_kept_as_a_short_key(url) -> None:
    db, clock = connect(url), Clock()
    throttle = SignInThrottle(db, attempts=1, clock=clock)
    throttle.attempt("x" * 100_000, "y" * 10_000)
    assert throttle.attempt("X" * 100_000, "y" * 10_000) is not None  # the same, case-folded
    with db.connect() as conn:
        keys = conn.execute(select(signin_attempts.c.key)).scalars().all()
    assert len(keys) == 3 and all(len(k) <= 200 for k in keys)

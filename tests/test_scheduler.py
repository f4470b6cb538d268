"""Several scheduler workers at once (engine/runtime/scheduler.py): each due timer fires and each
overdue mark is written exactly once, counted in the audit log.

Three workers sweep the same 200 due cases at once, each with its own engine (its own connection
pool, as separate processes have), started together by a barrier. On PostgreSQL (the suite's
`OKNO_TEST_DATABASE_URL`, a fresh database per test) the claims are row locks; on SQLite (a real
file, always run) one writer at a time and the row-version check keep it exactly once too.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.clock import FixedClock
from engine.runtime.commands import Cases
from engine.runtime.scheduler import fire_due_timers, mark_overdue, sweep
from engine.store.tables import cases as cases_table
from engine.store.tables import events, tasks, timers, worker_sweeps
from tests.casework import due_cases, engine_on
from tests.postgres import fresh_database

START = datetime(2025, 6, 18, 7, 0, tzinfo=UTC)
CASES, WORKERS = 200, 3


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("okno_sched") as url:
        yield url


def sweep_at_once(workers: list[Cases], job) -> list[int]:
    """Run `job(cases)` in one thread per worker, all released together; what each returned."""
    barrier, results, errors = threading.Barrier(len(workers)), [0] * len(workers), []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = job(workers[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return results


def events_per_case(cases: Cases, action: str) -> dict[str, int]:
    with cases.db.connect() as conn:
        return dict(conn.execute(select(events.c.case_id, func.count()).where(
            events.c.action == action).group_by(events.c.case_id)).all())


def check_exactly_once(url: str, tmp_path: Path) -> None:
    clock = FixedClock(START)
    first = engine_on(url, tmp_path / "okno.db", clock)
    ids = due_cases(first, CASES)
    clock.advance(days=10)  # every timer is due and every case past its 5-day term
    workers = [first] + [engine_on(url, tmp_path / "okno.db", clock) for _ in range(WORKERS - 1)]

    # Whole sweeps at once, round after round until one finds nothing: a case one worker holds
    # for its timer is skipped by another's overdue mark and marked in a later round.
    fired = marked = 0
    for _ in range(5):
        rounds = sweep_at_once(workers, lambda cases: sweep(cases, worker=str(id(cases))))
        fired += sum(f for f, _ in rounds)
        marked += sum(m for _, m in rounds)
        if rounds == [(0, 0)] * WORKERS:
            break

    assert (fired, marked) == (CASES, CASES)  # each worker counts what it wrote
    assert events_per_case(first, "timer") == dict.fromkeys(ids, 1)
    assert events_per_case(first, "overdue") == dict.fromkeys(ids, 1)
    with first.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(timers)).scalar_one() == 0
        assert conn.execute(select(func.count()).where(cases_table.c.overdue.is_(True))).scalar_one() == CASES
        reminders = conn.execute(select(func.count()).where(tasks.c.step == "remind")).scalar_one()
        noted = conn.execute(select(func.count()).select_from(worker_sweeps)).scalar_one()
    assert reminders == CASES  # one reminder task per fired timer, none twice
    assert noted == WORKERS
    report = first.ledger.verify(first.db)  # the chains, and the checkpoints the workers signed
    assert report.breaks == [] and report.checked == CASES
    assert report.log["checkpoints"] >= 1


def test_concurrent_timer_and_overdue_sweeps_split_the_work(pg_url, tmp_path):
    """fire_due_timers and mark_overdue on their own, three workers at once: every case is
    done in the first round, by exactly one of them."""
    clock = FixedClock(START)
    first = engine_on(pg_url, tmp_path / "okno.db", clock)
    ids = due_cases(first, 60)
    clock.advance(days=10)
    workers = [first] + [engine_on(pg_url, tmp_path / "okno.db", clock) for _ in range(WORKERS - 1)]
    assert sum(sweep_at_once(workers, fire_due_timers)) == 60
    assert sum(sweep_at_once(workers, mark_overdue)) == 60
    assert events_per_case(first, "timer") == events_per_case(first, "overdue") == dict.fromkeys(ids, 1)


def test_three_workers_on_postgresql_fire_each_timer_and_mark_each_case_once(pg_url, tmp_path):
    check_exactly_once(pg_url, tmp_path)


def test_three_workers_on_sqlite_fire_each_timer_and_mark_each_case_once(tmp_path):
    """Correct, not efficient: the workers compute the same cases and the losers' writes conflict
    (the scheduler's docstring: run one worker on SQLite)."""
    check_exactly_once(f"sqlite:///{tmp_path / 'okno.db'}", tmp_path)


def test_a_case_held_by_another_transaction_is_skipped_not_waited_for(pg_url, tmp_path):
    """The claim skips a locked case: a worker never queues behind another one's case."""
    clock = FixedClock(START)
    cases = engine_on(pg_url, tmp_path / "okno.db", clock)
    held, free = due_cases(cases, 2)
    clock.advance(days=10)
    with cases.db.connect() as other, other.begin():  # e.g. another worker mid-case
        other.execute(select(cases_table.c.id).where(cases_table.c.id == held).with_for_update())
        assert fire_due_timers(cases) == 1
        assert mark_overdue(cases) == 1
    assert events_per_case(cases, "timer") == {free: 1}
    assert events_per_case(cases, "overdue") == {free: 1}
    assert fire_due_timers(cases) == 1 and mark_overdue(cases) == 1  # released: its turn now
    assert events_per_case(cases, "timer") == {free: 1, held: 1}

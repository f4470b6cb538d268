"""The database figures of GET /metrics (engine/read/metrics.py), on a real SQLite file and, when
the suite names a server (`OKNO_TEST_DATABASE_URL`), on a fresh PostgreSQL database: the same
numbers from the same rows on both."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.accounts import add_user
from engine.clock import FixedClock
from engine.read.metrics import figures
from engine.runtime.scheduler import sweep
from tests.casework import due_cases, engine_on
from tests.postgres import fresh_database

START = datetime(2025, 6, 18, 7, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'okno.db'}"
    else:
        with fresh_database("okno_figures") as pg:
            yield pg


def test_the_figures_follow_the_cases_timers_and_sweeps(url, tmp_path) -> None:
    clock = FixedClock(START)
    cases = engine_on(url, tmp_path / "okno.db", clock)
    add_user(cases.db, "clerk-1", "x", "clerk", "org-1")
    add_user(cases.db, "clerk-2", "x", "clerk", "org-2")
    add_user(cases.db, "ivan", "x", "applicant", "citizens")  # not staff: no authority
    due_cases(cases, 3)
    found = figures(cases.db, cases.now(), clock.today())
    assert found.open_tasks == {"org-1": 3, "org-2": 0}  # one task each, its timer running
    assert found.overdue_cases == {"org-1": 0, "org-2": 0} and found.unmarked_overdue == 0
    assert found.oldest_due_timer is None and found.last_sweep is None

    clock.advance(days=10)
    found = figures(cases.db, cases.now(), clock.today())
    assert found.overdue_cases["org-1"] == 3 and found.unmarked_overdue == 3
    assert found.oldest_due_timer.replace(tzinfo=UTC) == START + timedelta(days=3)

    sweep(cases, worker="w1")
    found = figures(cases.db, cases.now(), clock.today())
    assert found.open_tasks == {"org-1": 6, "org-2": 0}  # the timers opened a reminder each
    assert found.unmarked_overdue == 0 and found.overdue_cases["org-1"] == 3
    assert found.oldest_due_timer is None
    assert found.last_sweep.replace(tzinfo=UTC) == cases.now()

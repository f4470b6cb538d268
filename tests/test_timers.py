"""Timers of a hand-drawn BPMN fire from the worker when the injected clock says so."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import audit
from engine.store import timers
from engine.worker import sweep
from tests.casework import Engine


def test_timer_fires_when_the_clock_moves_not_before(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.2")
    intake = eng.open_tasks(case_id)[0]
    assert intake["step"] == "intake" and intake["role"] == "clerk"
    eng.cases.complete_task(case_id, intake["id"], {}, actor="clerk-1")
    with eng.db.connect() as conn:
        (due_at,) = conn.execute(select(timers.c.due_at)).scalars().all()
    assert due_at.replace(tzinfo=None) == eng.clock.now().replace(tzinfo=None) + timedelta(days=3)

    eng.clock.advance(days=2, hours=23)
    assert sweep(eng.cases) == (0, 0)
    assert "remind" not in {t["step"] for t in eng.open_tasks(case_id)}

    eng.clock.advance(hours=2)
    assert sweep(eng.cases)[0] == 1
    reminder = [t for t in eng.open_tasks(case_id) if t["step"] == "remind"]
    assert len(reminder) == 1 and reminder[0]["acts_as"] == "supervisor"
    with eng.db.connect() as conn:
        assert conn.execute(select(timers)).all() == []  # fired timers leave the index
    assert sweep(eng.cases) == (0, 0)

    eng.run_to_end(case_id)
    assert eng.case(case_id)["status"] == "completed"
    assert audit.verify(eng.db)[1] == []


def test_timer_is_dropped_when_its_task_finishes_first(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.2")
    eng.run_to_end(case_id)
    with eng.db.connect() as conn:
        assert conn.execute(select(timers)).all() == []
    eng.clock.advance(days=10)
    assert sweep(eng.cases)[0] == 0

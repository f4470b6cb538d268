"""Timers of a hand-drawn BPMN fire from the worker when the injected clock says so."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.runtime.scheduler import sweep
from engine.store.tables import timers
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
    assert eng.verify()[1] == []


def test_timer_is_dropped_when_its_task_finishes_first(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.2")
    eng.run_to_end(case_id)
    with eng.db.connect() as conn:
        assert conn.execute(select(timers)).all() == []
    eng.clock.advance(days=10)
    assert sweep(eng.cases)[0] == 0


def _drawn(tmp_path, name: str, script: str) -> Engine:
    from pathlib import Path

    from engine.definition.build import build_procedure
    from engine.definition.validation import load_catalog
    from tests.casework import CATALOG

    xml = (Path(__file__).parent / "data" / "timer_script.bpmn").read_text(encoding="utf-8")
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    proc = build_procedure(data, "2.1.yaml", xml.replace("TIMER_TARGET", script))
    return Engine(tmp_path / name, procedures={proc.number: proc})


def test_a_case_whose_timer_fails_does_not_hold_up_the_others(tmp_path):
    broken = _drawn(tmp_path, "broken.db", "no_such_name")  # fails when the timer's flow runs
    first = broken.start("2.1")
    broken.clock.advance(minutes=1)
    second = broken.start("2.1")
    broken.clock.advance(days=2)
    assert sweep(broken.cases) == (0, 0)  # both fail; each is logged; the sweep goes on
    with broken.db.connect() as conn:
        assert {r.case_id for r in conn.execute(select(timers))} == {first, second}
    good = _drawn(tmp_path, "good.db", "'call the applicant'")
    case_id = good.start("2.1")
    good.clock.advance(days=2)
    assert sweep(good.cases)[0] == 1
    assert good.case(case_id)["row_version"] == 2
    assert broken.verify()[1] == [] and good.verify()[1] == []


def test_a_timer_at_exactly_its_due_time_waits_and_writes_nothing(tmp_path):
    eng = _drawn(tmp_path, "exact.db", "'x'")
    case_id = eng.start("2.1")
    eng.clock.advance(days=1)  # due == now: SpiffWorkflow fires only after the due time
    assert sweep(eng.cases) == (0, 0)
    assert eng.case(case_id)["row_version"] == 1
    eng.clock.advance(seconds=1)
    assert sweep(eng.cases)[0] == 1


def test_timers_of_a_suspended_case_wait_until_it_resumes(tmp_path):
    from engine.definition.build import build_procedure
    from engine.definition.validation import load_catalog
    from tests.casework import CATALOG

    data = load_catalog(CATALOG)["2.2"].definition
    data["suspension"] = {"allowed": True, "grounds": [{"id": "expertise", "title": "экспертиза"}]}
    proc = build_procedure(data, "2.2.yaml", load_catalog(CATALOG)["2.2"].bpmn_xml)
    eng = Engine(tmp_path / "s.db", procedures={proc.number: proc})
    case_id = eng.start("2.2")
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    eng.cases.suspend(case_id, "expertise", actor="clerk-1")
    eng.clock.advance(days=4)
    assert sweep(eng.cases) == (0, 0)
    assert "remind" not in {t["step"] for t in eng.open_tasks(case_id)}
    eng.cases.resume(case_id, actor="clerk-1")
    assert sweep(eng.cases)[0] == 1
    assert "remind" in {t["step"] for t in eng.open_tasks(case_id)}

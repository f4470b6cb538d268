"""Hand-drawn BPMN runs as a case: parallel branches, a manual task, a join, the outcome gateway."""
from __future__ import annotations

from pathlib import Path

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from tests.casework import CATALOG, Engine

PARALLEL = (Path(__file__).parent / "data" / "parallel.bpmn").read_text(encoding="utf-8")


def _engine(tmp_path) -> Engine:
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    proc = build_procedure(data, "2.1.yaml", PARALLEL)
    return Engine(tmp_path / "okno.db", procedures={proc.number: proc})


def test_parallel_branches_and_a_manual_task_join_before_the_decision(tmp_path):
    eng = _engine(tmp_path)
    case_id = eng.start("2.1")
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    both = {t["step"]: t for t in eng.open_tasks(case_id)}
    assert set(both) == {"copy", "sign"}
    assert (both["copy"]["acts_as"], both["sign"]["acts_as"]) == ("clerk", "supervisor")
    eng.cases.complete_task(case_id, both["sign"]["id"], {}, actor="head-1")
    assert [t["step"] for t in eng.open_tasks(case_id)] == ["copy"]  # the join waits
    eng.cases.complete_task(case_id, both["copy"]["id"], {}, actor="clerk-1")
    decision = eng.open_tasks(case_id)
    assert [(t["step"], t["kind"]) for t in decision] == [("decision", "decision")]
    eng.cases.decide(case_id, "approve", actor="head-1")
    eng.cases.issue_result(case_id, actor="clerk-1")
    case = eng.case(case_id)
    assert (case["status"], case["outcome"]) == ("completed", "approved")
    assert eng.verify()[1] == []


def test_refusal_ends_a_drawn_process_on_its_refused_end(tmp_path):
    eng = _engine(tmp_path)
    case_id = eng.start("2.1")
    assert eng.run_to_end(case_id, "refuse")[-1] == "decision"
    assert eng.case(case_id)["outcome"] == "refused"

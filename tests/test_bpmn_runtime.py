"""Hand-drawn BPMN runs as a case: parallel branches, a manual task, a join, the outcome gateway."""
from __future__ import annotations

from engine import audit
from engine.catalog import build_procedure, load_catalog
from tests.casework import CATALOG, Engine

PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs"
  targetNamespace="http://okno.example/test">
  <bpmn:process id="procedure_2_1" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_clerk" name="clerk">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>intake</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>split</bpmn:flowNodeRef><bpmn:flowNodeRef>copy</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>issue</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>outcome</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_approved</bpmn:flowNodeRef><bpmn:flowNodeRef>end_refused</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_head" name="head">
        <bpmn:flowNodeRef>sign</bpmn:flowNodeRef><bpmn:flowNodeRef>decision</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="intake" name="Приём заявления"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:manualTask id="copy" name="Изготовление копии"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:manualTask>
    <bpmn:userTask id="sign" name="Заверение"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="decision" name="Решение"><bpmn:incoming>f7</bpmn:incoming><bpmn:outgoing>f8</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="outcome" default="f10"><bpmn:incoming>f8</bpmn:incoming><bpmn:outgoing>f9</bpmn:outgoing><bpmn:outgoing>f10</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="issue" name="Выдача"><bpmn:incoming>f9</bpmn:incoming><bpmn:outgoing>f11</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end_approved"><bpmn:incoming>f11</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_refused"><bpmn:incoming>f10</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="intake"/>
    <bpmn:sequenceFlow id="f2" sourceRef="intake" targetRef="split"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="copy"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="sign"/>
    <bpmn:sequenceFlow id="f5" sourceRef="copy" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="sign" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="decision"/>
    <bpmn:sequenceFlow id="f8" sourceRef="decision" targetRef="outcome"/>
    <bpmn:sequenceFlow id="f9" sourceRef="outcome" targetRef="issue">
      <bpmn:conditionExpression>outcome == 'approve'</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f10" sourceRef="outcome" targetRef="end_refused"/>
    <bpmn:sequenceFlow id="f11" sourceRef="issue" targetRef="end_approved"/>
  </bpmn:process>
</bpmn:definitions>
"""


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
    assert audit.verify(eng.db)[1] == []


def test_refusal_ends_a_drawn_process_on_its_refused_end(tmp_path):
    eng = _engine(tmp_path)
    case_id = eng.start("2.1")
    assert eng.run_to_end(case_id, "refuse")[-1] == "decision"
    assert eng.case(case_id)["outcome"] == "refused"

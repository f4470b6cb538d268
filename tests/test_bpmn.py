"""engine.bpmn: compiling procedures, checking drawn BPMN, the spec cache, running and timers."""
from __future__ import annotations

import dataclasses
import shutil
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from typer.testing import CliRunner

from api.cli import app
from engine.bpmn.check import check_bpmn, parse
from engine.bpmn.timer_clock import clock, fire_timers, timer_due_times
from engine.bpmn.xml import BpmnError, process_id
from engine.definition.procedure import Step
from engine.definition.validation import CatalogError, load_catalog
from engine.expressions import SafeScriptEngine
from engine.process import specs
from engine.process.compile import bpmn_text, compile_procedure
from engine.process.specs import clear_spec_cache, load_spec, new_workflow, step_kind

ROOT = Path(__file__).resolve().parent.parent
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
FLOW_NODES = ("startEvent", "endEvent", "userTask", "manualTask", "task", "exclusiveGateway",
              "parallelGateway", "inclusiveGateway", "callActivity", "boundaryEvent",
              "intermediateCatchEvent", "intermediateThrowEvent", "subProcess", "scriptTask")
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

CATALOG = load_catalog(ROOT / "procedures")
COMPILED = sorted(n for n, p in CATALOG.items() if p.steps)
DRAWN = ROOT / "procedures" / "bpmn" / "2.2.bpmn"


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_spec_cache()
    yield
    clear_spec_cache()


def _q(tag: str, prefix: str = "bpmn") -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _ready(workflow) -> list[str]:
    return [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY, manual=True)]


def _complete(workflow, name: str, now: datetime = T0, **data) -> None:
    tasks = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
             if t.task_spec.name == name]
    assert tasks, f"{name} is not ready; ready: {_ready(workflow)}"
    with clock(now):
        tasks[0].set_data(**data)
        tasks[0].run()
        workflow.do_engine_steps()


def _ends(workflow) -> list[str]:
    return sorted(t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)
                  if t.task_spec.name.startswith("end_"))


def _assert_diagram_complete(root: ET.Element) -> None:
    shapes = {s.get("bpmnElement") for s in root.iter(_q("BPMNShape", "bpmndi"))}
    edges = {e.get("bpmnElement") for e in root.iter(_q("BPMNEdge", "bpmndi"))}
    for tag in FLOW_NODES:
        for node in root.iter(_q(tag)):
            assert node.get("id") in shapes, f"no BPMNShape for {tag} {node.get('id')}"
    for lane in root.iter(_q("lane")):
        assert lane.get("id") in shapes, f"no BPMNShape for lane {lane.get('id')}"
    for flow in root.iter(_q("sequenceFlow")):
        assert flow.get("id") in edges, f"no BPMNEdge for {flow.get('id')}"
    for edge in root.iter(_q("BPMNEdge", "bpmndi")):
        assert len(edge.findall("di:waypoint", NS)) >= 2
    for shape in root.iter(_q("BPMNShape", "bpmndi")):
        bounds = shape.find("dc:Bounds", NS)
        assert bounds is not None and float(bounds.get("width")) > 0


# ------------------------------------------------------------------------------------------------
# Compiling


@pytest.mark.parametrize("number", COMPILED)
def test_compiled_bpmn_parses_and_has_a_full_diagram(number):
    procedure = CATALOG[number]
    xml = compile_procedure(procedure)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')

    root = ET.fromstring(xml.encode("utf-8"))  # the standard library reads it
    processes = root.findall(_q("process"))
    assert len(processes) == 1
    process = processes[0]
    assert process.get("id") == process_id(number) == "procedure_" + number.replace(".", "_")
    assert process.get("name") == procedure.name
    assert process.get("isExecutable") == "true"
    _assert_diagram_complete(root)

    used_roles = {s.role for s in procedure.steps}
    lanes = {lane.get("id"): lane.get("name") for lane in root.iter(_q("lane"))}
    assert lanes == {f"Lane_{r}": procedure.role(r).title for r in used_roles}  # lanes show titles
    tasks = {t.get("id"): t.get("name") for t in root.iter(_q("userTask"))}
    assert tasks == {s.id: s.title for s in procedure.steps}
    assert {e.get("id") for e in root.iter(_q("endEvent"))} == {"end_approved", "end_refused"}
    assert [s.get("id") for s in root.iter(_q("startEvent"))] == ["start"]

    parser = SpiffBpmnParser(validator=VALIDATOR)  # SpiffWorkflow reads it, XSD-validated
    parser.add_bpmn_str(xml.encode("utf-8"))
    spec = parser.get_spec(process_id(number))
    for step in procedure.steps:
        task_spec = spec.task_specs[step.id]
        assert task_spec.lane == procedure.role(step.role).title  # SpiffWorkflow: the lane's name
        assert task_spec.bpmn_name == step.title
        assert step_kind(task_spec) == step.kind
    loaded = load_spec(procedure).spec  # the loaded spec maps titles back to role ids
    for step in procedure.steps:
        assert loaded.task_specs[step.id].lane == step.role  # how the engine learns who performs it
    with pytest.raises(BpmnError, match="is not a declared role"):
        check_bpmn(xml, {r.id for r in procedure.roles})  # titles are lanes only given the mapping
    check_bpmn(xml, {r.id for r in procedure.roles}, {r.title: r.id for r in procedure.roles})


@pytest.mark.parametrize("number", COMPILED)
def test_compiling_is_deterministic(number):
    again = load_catalog(ROOT / "procedures")[number]
    assert again is not CATALOG[number]
    assert compile_procedure(CATALOG[number]) == compile_procedure(again)


def test_compiled_layout_is_left_to_right_in_lane_bands():
    procedure = CATALOG["6.1.1"]
    root = ET.fromstring(compile_procedure(procedure).encode("utf-8"))
    bounds = {s.get("bpmnElement"): s.find("dc:Bounds", NS) for s in root.iter(_q("BPMNShape", "bpmndi"))}

    def box(element_id):
        b = bounds[element_id]
        return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))

    xs = [box(s.id)[0] for s in procedure.steps]
    assert xs == sorted(xs)  # x grows along the flow
    for lane in root.iter(_q("lane")):
        lx, ly, lw, lh = box(lane.get("id"))
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = box(ref.text)
            assert ly <= y and y + h <= ly + lh, f"{ref.text} outside its lane band"
            assert lx <= x and x + w <= lx + lw


def test_conditional_steps_after_each_other_and_after_the_decision():
    base = CATALOG["6.1.1"]
    steps = (
        Step("intake", "intake", "Прием", "clerk"),
        Step("check_a", "task", "A", "registrar", condition="channel == 'post'"),
        Step("check_b", "task", "B", "registrar", condition="channel == 'portal'"),
        Step("decision", "decision", "Решение", "head"),
        Step("notify", "task", "Уведомить", "clerk", condition="channel != 'portal'"),
    )
    procedure = dataclasses.replace(base, steps=steps, version="test-conditional-steps")
    root = ET.fromstring(compile_procedure(procedure).encode("utf-8"))
    _assert_diagram_complete(root)

    def run(channel, outcome):
        workflow = new_workflow(procedure, {"channel": channel})
        workflow.do_engine_steps()
        seen = []
        while ready := _ready(workflow):
            seen.append(ready[0])
            _complete(workflow, ready[0], outcome=outcome)
        assert workflow.is_completed()
        return seen, _ends(workflow)

    assert run("post", "approve") == (["intake", "check_a", "decision", "notify"], ["end_approved"])
    assert run("portal", "approve") == (["intake", "check_b", "decision"], ["end_approved"])
    assert run("in_person", "refuse") == (["intake", "decision"], ["end_refused"])


def test_lanes_named_by_role_id_still_give_tasks_their_roles():
    """A version pinned before lanes showed titles (lane name = role id) runs as before; roles
    whose titles are ambiguous are compiled to lanes named by id."""
    procedure = CATALOG["6.1.1"]
    xml = compile_procedure(procedure)
    for role in procedure.roles:
        xml = xml.replace(f"name={quoteattr(role.title)}", f'name="{role.id}"')
    assert "name=\"clerk\"" in xml
    pinned = dataclasses.replace(procedure, pinned_xml=xml, version="test-id-lanes")
    spec = load_spec(pinned).spec
    assert {spec.task_specs[s.id].lane for s in procedure.steps} == {s.role for s in procedure.steps}
    for step in procedure.steps:
        assert spec.task_specs[step.id].lane == step.role

    same = tuple(dataclasses.replace(r, title="специалист") for r in procedure.roles)
    ambiguous = dataclasses.replace(procedure, roles=same, version="test-same-titles")
    root = ET.fromstring(compile_procedure(ambiguous).encode("utf-8"))
    assert {lane.get("name") for lane in root.iter(_q("lane"))} == {s.role for s in procedure.steps}
    for step in procedure.steps:
        assert load_spec(ambiguous).spec.task_specs[step.id].lane == step.role


def test_compile_refuses_what_it_cannot_draw():
    base = CATALOG["6.1.1"]
    with pytest.raises(BpmnError, match="reserved"):
        compile_procedure(dataclasses.replace(
            base, steps=(Step("start", "intake", "x", "clerk"), Step("decision", "decision", "d", "head"))))
    with pytest.raises(BpmnError, match="exactly one decision"):
        compile_procedure(dataclasses.replace(base, steps=(Step("intake", "intake", "x", "clerk"),)))
    with pytest.raises(BpmnError, match="no steps"):
        compile_procedure(CATALOG["2.2"])


# ------------------------------------------------------------------------------------------------
# The spec cache


def test_spec_is_parsed_once_per_version(monkeypatch):
    same_version = load_catalog(ROOT / "procedures")["6.1.1"]  # (loading checks 2.2's BPMN)
    calls = []
    real_parse = parse
    monkeypatch.setattr(specs, "parse", lambda *a, **k: calls.append(a) or real_parse(*a, **k))
    procedure = CATALOG["6.1.1"]
    first = load_spec(procedure)
    assert load_spec(procedure) is first
    assert same_version is not procedure
    assert load_spec(same_version) is first  # the same version hash
    assert len(calls) == 1
    assert first.version == procedure.version and first.process_id == "procedure_6_1_1"

    changed = dataclasses.replace(procedure, version="another-version")
    assert load_spec(changed) is not first
    assert len(calls) == 2

    wf1, wf2 = new_workflow(procedure), new_workflow(procedure)
    assert wf1.spec is wf2.spec is first.spec
    assert len(calls) == 2


def test_spec_cache_parses_once_under_concurrency(monkeypatch):
    calls = []
    real_parse = parse
    monkeypatch.setattr(specs, "parse", lambda *a, **k: calls.append(a) or real_parse(*a, **k))
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(load_spec(CATALOG["2.3"]))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_workflows_run_on_the_safe_script_engine():
    workflow = new_workflow(CATALOG["6.1.1"])
    assert isinstance(workflow.script_engine, SafeScriptEngine)
    workflow.do_engine_steps()
    intake = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    with pytest.raises(WorkflowTaskException):
        workflow.script_engine.evaluate(intake, "__import__('os').system('true')")


# ------------------------------------------------------------------------------------------------
# Running 6.1.1 (compiled)


def _run_611(reason: str, outcome: str):
    workflow = new_workflow(CATALOG["6.1.1"], {"channel": "in_person"})
    with clock(T0):
        workflow.do_engine_steps()
    seen = []
    while ready := workflow.get_tasks(state=TaskState.READY, manual=True):
        task = ready[0]
        seen.append((task.task_spec.name, task.task_spec.lane))
        data = {}
        if task.task_spec.name == "intake":
            data = {"reason": reason}
        elif task.task_spec.name == "decision":
            data = {"outcome": outcome, "ground": None if outcome == "approve" else "no_grounds"}
        _complete(workflow, task.task_spec.name, **data)
    assert workflow.is_completed()
    return seen, _ends(workflow), workflow


def test_611_damaged_skips_the_archive_request_and_approve_issues():
    seen, ends, workflow = _run_611("damaged", "approve")
    assert seen == [("intake", "clerk"), ("review", "registrar"), ("decision", "head"),
                    ("issue", "clerk")]
    assert ends == ["end_approved"]
    assert workflow.last_task.data["channel"] == "in_person"  # start data reaches every task


def test_611_lost_requests_the_archive():
    seen, ends, _ = _run_611("lost", "approve")
    assert [name for name, _ in seen] == ["intake", "request_archive", "review", "decision", "issue"]
    assert seen[1] == ("request_archive", "registrar")
    assert ends == ["end_approved"]


def test_611_refusal_ends_without_issue():
    seen, ends, workflow = _run_611("lost", "refuse")
    assert [name for name, _ in seen] == ["intake", "request_archive", "review", "decision"]
    assert ends == ["end_refused"]
    assert workflow.last_task.data["ground"] == "no_grounds"


# ------------------------------------------------------------------------------------------------
# 2.2: the hand-drawn BPMN with a call activity and a timer


def test_22_is_the_drawn_file_and_its_diagram_is_complete():
    procedure = CATALOG["2.2"]
    assert procedure.bpmn == "bpmn/2.2.bpmn" and not procedure.steps
    assert procedure.name == "Выдача справки о месте работы, службы и занимаемой должности"
    assert bpmn_text(procedure) == DRAWN.read_text(encoding="utf-8")
    root = ET.fromstring(DRAWN.read_bytes())
    _assert_diagram_complete(root)
    assert {lane.get("name") for lane in root.iter(_q("lane"))} == {"clerk", "head"}
    parsed = load_spec(procedure)
    assert parsed.process_id == "procedure_2_2"
    assert set(parsed.subprocess_specs) == {"prepare_certificate"}
    timer = parsed.spec.task_specs["term_near"]
    assert timer.cancel_activity is False and timer.event_definition.expression == '"P3D"'


def _start_22(now: datetime = T0):
    workflow = new_workflow(CATALOG["2.2"])
    with clock(now):
        workflow.do_engine_steps()
    _complete(workflow, "intake", now)
    return workflow


def test_22_timer_fires_when_the_injected_clock_passes_three_days():
    workflow = _start_22()
    assert _ready(workflow) == ["check_records"]  # inside the called process, lane clerk
    waiting = workflow.get_tasks(state=TaskState.WAITING, spec_name="term_near")[0]
    assert timer_due_times(workflow) == [(str(waiting.id), T0 + timedelta(days=3))]
    assert waiting.internal_data["event_value"] == (T0 + timedelta(days=3)).isoformat()

    fire_timers(workflow, T0 + timedelta(days=2, hours=23))
    assert _ready(workflow) == ["check_records"]
    fire_timers(workflow, T0 + timedelta(days=3, seconds=1))
    assert sorted(_ready(workflow)) == ["check_records", "remind"]
    remind = workflow.get_tasks(state=TaskState.READY, spec_name="remind")[0]
    assert remind.task_spec.lane == "head"
    assert timer_due_times(workflow) == []

    # Non-interrupting: the preparation goes on; the issue ends the case and cancels the reminder.
    now = T0 + timedelta(days=4)
    _complete(workflow, "check_records", now)
    _complete(workflow, "draft", now)
    assert sorted(_ready(workflow)) == ["decision", "remind"]
    _complete(workflow, "decision", now, outcome="approve", ground=None)
    _complete(workflow, "issue", now)
    assert workflow.is_completed() and _ends(workflow) == ["end_approved"]
    assert workflow.get_tasks(spec_name="remind")[0].state == TaskState.CANCELLED


def test_22_timer_is_cancelled_when_preparation_finishes_in_time():
    workflow = _start_22()
    _complete(workflow, "check_records", T0 + timedelta(days=1))
    _complete(workflow, "draft", T0 + timedelta(days=1))
    assert timer_due_times(workflow) == []
    fire_timers(workflow, T0 + timedelta(days=10))
    assert _ready(workflow) == ["decision"]
    _complete(workflow, "decision", T0 + timedelta(days=1), outcome="refuse", ground="no_grounds")
    assert workflow.is_completed() and _ends(workflow) == ["end_refused"]
    assert not workflow.get_tasks(spec_name="remind")


def test_22_timer_can_also_be_fired_by_moving_its_due_time_into_the_past():
    workflow = new_workflow(CATALOG["2.2"])  # no injected clock: due time from the wall clock
    workflow.do_engine_steps()
    _complete(workflow, "intake", datetime.now(UTC))
    timer = workflow.get_tasks(state=TaskState.WAITING, spec_name="term_near")[0]
    due = datetime.fromisoformat(timer.internal_data["event_value"])
    assert timedelta(days=2, hours=23) < due - datetime.now(UTC) <= timedelta(days=3)
    timer.internal_data["event_value"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    workflow.refresh_timers()
    workflow.do_engine_steps()
    assert "remind" in _ready(workflow)


def test_clock_needs_an_aware_datetime():
    with pytest.raises(ValueError), clock(datetime(2025, 1, 1)):
        pass
    with clock(T0):
        assert _spiff_timer.datetime.now(UTC) == T0
    assert abs(_spiff_timer.datetime.now(UTC) - datetime.now(UTC)) < timedelta(minutes=1)


# ------------------------------------------------------------------------------------------------
# check_bpmn refusals

ROLES = {"clerk", "head"}
GOOD = DRAWN.read_text(encoding="utf-8")


def _refused(xml: str, match: str) -> BpmnError:
    with pytest.raises(BpmnError, match=match) as info:
        check_bpmn(xml, ROLES)
    return info.value


def test_check_accepts_the_drawn_file():
    check_bpmn(GOOD, ROLES)


def test_check_refuses_malformed_xml_with_its_line():
    error = _refused(GOOD.replace("</bpmn:process>", "</bpmn:proc>", 1), "not well-formed XML")
    assert "line 103" in str(error)


def test_check_refuses_an_unknown_lane():
    error = _refused(GOOD.replace('name="head"', 'name="boss"'), "lane 'boss' is not a declared role")
    assert "clerk, head" in str(error)


def test_check_refuses_a_hostile_condition():
    _refused(GOOD.replace("outcome == 'approve'", "__import__('os').system('x')"),
             r"line \d+: sequenceFlow .*: conditionExpression refused: '__import__' is not allowed")
    _refused(GOOD.replace("outcome == 'approve'", "outcome.__class__"), "conditionExpression refused")


def test_check_refuses_a_hostile_timer():
    _refused(GOOD.replace('"P3D"', "__import__('os').system('x')"), "timeDuration refused")
    _refused(GOOD.replace('"P3D"', "().__class__.__base__"), "timeDuration refused")


def test_check_refuses_timers_it_cannot_read():
    _refused(GOOD.replace('"P3D"', "P3D"), "must be quoted")
    _refused(GOOD.replace('"P3D"', '"P3X"'), "not an ISO 8601 duration")
    _refused(GOOD.replace('"P3D"', "3"), "must give an ISO 8601 text")


def test_check_refuses_a_user_task_outside_any_lane():
    _refused(GOOD.replace("<bpmn:flowNodeRef>remind</bpmn:flowNodeRef>", ""), "'remind'.* is in no lane")


def test_check_refuses_scripts_and_service_tasks():
    script = ('<bpmn:scriptTask id="s1"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
              '<bpmn:userTask id="remind"')
    _refused(GOOD.replace('<bpmn:userTask id="remind"', script), "script refused")
    _refused(GOOD.replace('<bpmn:userTask id="remind"', '<bpmn:serviceTask id="s1" /><bpmn:userTask id="remind"'),
             "has no topic")


def test_check_refuses_processes_it_cannot_run():
    _refused(GOOD.replace('isExecutable="true"', 'isExecutable="false"'), "no executable process")
    _refused(GOOD.replace('calledElement="prepare_certificate"', 'calledElement="nowhere"'),
             "calls process 'nowhere', which is not in this file")
    # Without the call, prepare_certificate becomes a second top-level process.
    second = GOOD.replace('<bpmn:callActivity id="prepare" name="Подготовка справки" '
                          'calledElement="prepare_certificate">', '<bpmn:task id="prepare">')
    second = second.replace("</bpmn:callActivity>", "</bpmn:task>")
    _refused(second, "more than one executable top-level process")


def test_check_refuses_doctype_and_what_spiffworkflow_rejects():
    _refused(GOOD.replace("<bpmn:definitions", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                          "\n<bpmn:definitions", 1), "DOCTYPE")
    _refused(GOOD.replace("<bpmn:incoming>Flow_start_intake</bpmn:incoming>", "<bpmn:foo />"),
             r"line \d+: element bpmn:foo \(line \d+\): this element is not allowed here")
    _refused(GOOD.replace(' default="Flow_outcome_refused"', ""),
             "Non-default exclusive outgoing sequence flow without condition")


def test_catalog_reports_a_bad_bpmn_file(tmp_path):
    shutil.copy(ROOT / "procedures" / "2.2.yaml", tmp_path / "2.2.yaml")
    (tmp_path / "bpmn").mkdir()
    (tmp_path / "bpmn" / "2.2.bpmn").write_text(GOOD.replace('name="head"', 'name="boss"'),
                                                encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bpmn/2\.2\.bpmn:18:1: lane 'boss' is not a declared role"):
        load_catalog(tmp_path)


# ------------------------------------------------------------------------------------------------
# okno bpmn


def test_cli_prints_compiled_and_drawn_bpmn():
    runner = CliRunner()
    result = runner.invoke(app, ["bpmn", "6.1.1", "--catalog", str(ROOT / "procedures")])
    assert result.exit_code == 0, result.output
    assert result.output == compile_procedure(CATALOG["6.1.1"])
    result = runner.invoke(app, ["bpmn", "2.2", "--catalog", str(ROOT / "procedures")])
    assert result.exit_code == 0 and result.output == GOOD
    result = runner.invoke(app, ["bpmn", "9.99", "--catalog", str(ROOT / "procedures")])
    assert result.exit_code == 2

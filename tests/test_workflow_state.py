"""Saving and restoring workflows without their spec, in both layouts."""
from __future__ import annotations

from datetime import UTC, datetime

import orjson
from SpiffWorkflow.task import TaskState

from engine.bpmn.timer_clock import clock
from engine.definition.validation import load_catalog
from engine.expressions import SafeScriptEngine
from engine.process.specs import load_spec, new_workflow
from engine.runtime.forms import example_form
from engine.store import workflow_state
from tests.casework import CATALOG

PROC = load_catalog(CATALOG)["6.1.1"]


def _advance(wf, steps: int) -> None:
    for _ in range(steps):
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        data = example_form(PROC.step(task.task_spec.name).fields)
        task.set_data(**data, outcome="approve")
        task.run()
        wf.do_engine_steps()


def _snapshot(wf) -> list:
    return sorted((str(t.id), t.task_spec.name, t.state, repr(sorted(t.data.items())))
                  for t in wf.get_tasks())


def test_plain_data_round_trips_without_the_spec():
    wf = new_workflow(PROC, {"channel": "in_person", "category": "citizen_by", "exempt": False})
    wf.do_engine_steps()
    _advance(wf, 2)
    state = workflow_state.dump(wf)
    assert b'"okno_layout":"plain"' in state
    assert b"task_specs" not in state  # the spec is not stored with the case
    spec = load_spec(PROC)
    restored = workflow_state.load(state, spec.spec, spec.subprocess_specs)
    assert _snapshot(restored) == _snapshot(wf)
    assert isinstance(restored.script_engine, SafeScriptEngine)
    _advance(restored, 1)


def test_typed_values_fall_back_to_spiffworkflow_conversion():
    wf = new_workflow(PROC, {"channel": "in_person", "category": "citizen_by", "exempt": False})
    wf.do_engine_steps()
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data["when"] = datetime(2025, 6, 18, 9, 30, tzinfo=UTC)
    state = workflow_state.dump(wf)
    stored = orjson.loads(state)
    assert "okno_layout" not in stored  # not the plain layout: SpiffWorkflow's typed conversion
    assert stored["tasks"][str(task.id)]["data"]["when"] == {
        "typename": "datetime", "value": "2025-06-18T09:30:00+00:00"}
    spec = load_spec(PROC)
    restored = workflow_state.load(state, spec.spec, spec.subprocess_specs)
    again = restored.get_task_from_id(task.id)
    assert again.data["when"] == datetime(2025, 6, 18, 9, 30, tzinfo=UTC)
    assert isinstance(again.data["when"], datetime)


def test_plain_layout_keeps_dicts_that_look_typed():
    wf = new_workflow(PROC, {"channel": "in_person", "category": "citizen_by", "exempt": False})
    wf.do_engine_steps()
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data["nested"] = {"typename": "UUID", "value": "x"}
    spec = load_spec(PROC)
    restored = workflow_state.load(workflow_state.dump(wf), spec.spec, spec.subprocess_specs)
    assert restored.get_task_from_id(task.id).data["nested"] == {"typename": "UUID", "value": "x"}


def test_the_direct_plain_dict_equals_spiffworkflows_conversion_at_every_step():
    """`plain_dict` replaces the registry's generic conversion on the hot path: same output."""
    catalog = load_catalog(CATALOG)
    saw_subprocess = False
    for proc in catalog.values():
        wf = new_workflow(proc, {"channel": "in_person", "category": None, "exempt": False})
        wf.script_engine = workflow_state.script_engine()
        with clock(datetime(2025, 6, 18, 7, 0, tzinfo=UTC)):
            wf.do_engine_steps()
            for _ in range(30):
                assert workflow_state.plain_dict(wf) == workflow_state._plain.to_dict(wf), proc.number
                saw_subprocess = saw_subprocess or bool(wf.subprocesses)
                ready = wf.get_tasks(state=TaskState.READY, manual=True)
                if not ready:
                    break
                task = ready[0]
                fields = proc.step(task.task_spec.name).fields if proc.steps else ()
                task.set_data(**example_form(fields), outcome="approve")
                task.run()
                wf.do_engine_steps()
        assert wf.is_completed() or wf.get_tasks(state=TaskState.WAITING), proc.number
    assert saw_subprocess  # 2.2 is drawn with a call activity

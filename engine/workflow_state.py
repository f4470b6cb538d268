"""Saving and restoring a running workflow without its spec.

SpiffWorkflow's default serializer embeds the whole process spec in every saved case and stores
task data as diffs from the parent task (lost if tasks are restored out of order). Here the spec is
parsed once per procedure version (`engine.bpmn.load_spec`) and only the instance is stored, with
each task's full data (`SimpleTaskConverter`), as orjson bytes. The script engine is not part of
the state: the safe one is reattached on every restore.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, SimpleTaskConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

from engine.expressions import SafeScriptEngine

FORMAT = "okno-spiff-3.2/1"  # stored with each case: which layout restores this state


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """The top workflow without `spec` and `subprocess_specs`: those come from the version cache."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec=None, subprocess_specs=None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[Task] = SimpleTaskConverter
_config[BpmnWorkflow] = _SpeclessWorkflowConverter
_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
_script_engine = SafeScriptEngine()


def script_engine() -> SafeScriptEngine:
    """The one safe script engine every workflow runs with (it holds no per-case state)."""
    return _script_engine


def dump(workflow: BpmnWorkflow) -> bytes:
    """The workflow instance as compact JSON bytes (no spec)."""
    return orjson.dumps(_serializer.to_dict(workflow))


def load(state: bytes, spec, subprocess_specs) -> BpmnWorkflow:
    """Rebuild a workflow from `dump` output and its parsed spec, with the safe script engine."""
    workflow = _serializer.from_dict(orjson.loads(state), spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = _script_engine
    return workflow

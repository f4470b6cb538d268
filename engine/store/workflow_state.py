"""Saving and restoring a running workflow without its spec.

SpiffWorkflow's default serializer embeds the whole process spec in every saved case and stores
task data as diffs from the parent task (lost if tasks are restored out of order). Here the spec is
parsed once per procedure version (`engine.bpmn.load_spec`) and only the instance is stored, with
each task's full data (`SimpleTaskConverter`), as orjson bytes. The script engine is not part of
the state: the safe one is reattached on every restore.

Every stored state carries two versions, both read on restore: okno's layout (`FORMAT`, in
`cases.state_format`) and SpiffWorkflow's serializer format (`SPIFF_VERSION`, in
`cases.spiff_version`). A state in an older okno layout is brought forward by the functions
registered in `FORMAT_MIGRATIONS`, one step at a time; a state from an older SpiffWorkflow is
brought forward by SpiffWorkflow's own migrations. A state this release cannot read is a clear
`StateFormatError`, never a half-restored workflow.

A closed case keeps no workflow state: closing replaces it by a compact stand-in
(`engine.store.closed_state`), which `load` refuses with a clear `StateFormatError`.

Compressing the state (zlib level 1) was measured and rejected: it makes a state five times
smaller but costs more time per step than the SQLite pages it saves.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    SimpleTaskConverter,
)
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS as SPIFF_MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task, TaskState

from engine.expressions import SafeScriptEngine
from engine.store import closed_state

FORMAT = "okno-spiff-3.2/1"  # stored with each case: which layout restores this state
SPIFF_VERSION: str = SPIFF_SERIALIZER_VERSION  # SpiffWorkflow's serializer format ("1.5" in 3.2)

# How to read a state written in an older okno layout: its format -> (a function returning the
# state dict in the next layout, the next format). A release that changes the layout registers the
# step from the format before it; restore applies the steps in order up to FORMAT.
FORMAT_MIGRATIONS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {}


class StateFormatError(ValueError):
    """A stored state that this release cannot restore (unknown format or failed migration)."""


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


@functools.lru_cache(maxsize=1 << 16)
def _text(task_id: UUID) -> str:
    """str(UUID) is slow in pure Python and every save writes every task's ids again."""
    return str(task_id)


def _task_dict(task: Task) -> dict[str, Any]:
    return {
        "id": _text(task.id),
        "parent": _text(task._parent) if task._parent is not None else None,
        "children": [_text(child) for child in task._children],
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": task.internal_data,
        "data": task.data,
        "typename": "Task",
    }


class _PlainTaskConverter(SimpleTaskConverter):
    """Full task data per task, written as it stands: for data that is plain JSON (the usual case).

    `dump` tries this layout first and lets orjson refuse anything that is not plain JSON; only
    then does it fall back to SpiffWorkflow's typed conversion of every value (much slower).
    """

    def to_dict(self, task: Task) -> dict[str, Any]:
        return _task_dict(task)

    def from_dict(self, dct: dict[str, Any], workflow) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=UUID(dct["id"]))
        task._parent = UUID(dct["parent"]) if dct["parent"] is not None else None
        task._children = [UUID(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = dct["internal_data"]
        task.data = dct["data"]
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.DEFINITE_MASK):
            task.workflow.top_workflow.event_manager.add_task(task)
        return task


def _serializer_with(task_converter) -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[Task] = task_converter
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_plain = _serializer_with(_PlainTaskConverter)
_typed = _serializer_with(SimpleTaskConverter)
_script_engine = SafeScriptEngine()
_LAYOUT_KEY = "okno_layout"
_PLAIN_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _not_plain(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def script_engine() -> SafeScriptEngine:
    """The one safe script engine every workflow runs with (it holds no per-case state)."""
    return _script_engine


def _plain_workflow(workflow) -> dict[str, Any]:
    return {
        "data": workflow.data,
        "correlations": workflow.correlations,
        "last_task": _text(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": {_text(task_id): _task_dict(task) for task_id, task in workflow.tasks.items()},
        "root": _text(workflow.task_tree.id),
    }


def plain_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """What `_plain.to_dict(workflow)` returns, built directly: the registry's generic dispatch
    per task and per value cost more than the step itself (tests check the two agree)."""
    subprocesses = {}
    for key, sub in workflow.subprocesses.items():
        subprocesses[_text(key)] = {**_plain_workflow(sub), "parent_task_id": _text(sub.parent_task_id),
                                    "spec": sub.spec.name, "typename": type(sub).__name__}
    return {
        **_plain_workflow(workflow),
        "subprocesses": subprocesses,
        "bpmn_events": _plain.registry.convert(workflow.bpmn_events) if workflow.bpmn_events else [],
        "typename": type(workflow).__name__,
    }


def dump(workflow: BpmnWorkflow) -> bytes:
    """The workflow instance as compact JSON bytes (no spec)."""
    try:
        return orjson.dumps({**plain_dict(workflow), _LAYOUT_KEY: "plain"},
                            default=_not_plain, option=_PLAIN_OPTIONS)
    except TypeError:  # a datetime, a set, a non-text key…: SpiffWorkflow's typed conversion
        return orjson.dumps(_typed.to_dict(workflow))


def load(state: bytes, spec, subprocess_specs, *, state_format: str = FORMAT,
         spiff_version: str = SPIFF_VERSION) -> BpmnWorkflow:
    """Rebuild a workflow from `dump` output and its parsed spec, with the safe script engine.

    `state_format` and `spiff_version` are what was stored with the state; an older state is
    migrated first (see the module docstring)."""
    if state_format == closed_state.FORMAT:
        raise StateFormatError("the case is closed: its workflow state was compacted on closing "
                               "(store.closed_state) and cannot be resumed")
    dct = orjson.loads(state)
    if state_format != FORMAT or spiff_version != SPIFF_VERSION:
        dct = upgrade(dct, state_format, spiff_version)
    serializer = _plain if dct.pop(_LAYOUT_KEY, None) == "plain" else _typed
    workflow = serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = _script_engine
    return workflow


def upgrade(dct: dict[str, Any], state_format: str, spiff_version: str) -> dict[str, Any]:
    """A stored state dict brought to FORMAT and SPIFF_VERSION, or StateFormatError."""
    for _ in range(len(FORMAT_MIGRATIONS) + 1):  # each format is passed at most once
        if state_format == FORMAT:
            break
        step = FORMAT_MIGRATIONS.get(state_format)
        if step is None:
            raise StateFormatError(f"stored state format {state_format!r} is unknown to this release, "
                                   f"which reads {FORMAT!r}")
        migrate, state_format = step
        try:
            dct = migrate(dct)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFormatError(f"stored state could not be migrated to {state_format!r}: {exc}") from None
    else:
        raise StateFormatError(f"the state format migrations loop at {state_format!r}")
    if spiff_version != SPIFF_VERSION:
        if spiff_version not in SPIFF_MIGRATIONS:  # e.g. written by a newer SpiffWorkflow
            raise StateFormatError(f"stored state of SpiffWorkflow serializer format {spiff_version!r} "
                                   f"cannot be read by this release, which reads {SPIFF_VERSION!r}")
        dct[_plain.VERSION_KEY] = spiff_version
        try:
            _plain.migrate(dct)  # SpiffWorkflow's own steps from older serializer formats
        except Exception as exc:  # noqa: BLE001 - any failure means the state cannot be read
            raise StateFormatError(f"stored state of SpiffWorkflow serializer format {spiff_version!r} "
                                   f"could not be migrated to {SPIFF_VERSION!r}: "
                                   f"{exc.__class__.__name__}: {exc}") from None
        dct.pop(_plain.VERSION_KEY, None)
    return dct

"""Which BPMN messages a stored case waits for, read from its saved state without restoring it.

A message is caught by a waiting task whose spec has a message event definition: an intermediate
catch event, a boundary event, or an event-based gateway (which holds its branches' definitions in
one `MultipleEventDefinition`). `catchers(specs)` maps each such task spec's name to the message
names it catches (once per parsed version); `waiting_in_state(catchers, state)` reads the waiting
tasks of a stored state (the layout of engine.store.workflow_state) and names their messages.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.util.task import TaskState

MAX_STATE_BYTES = 64 << 20  # a stored state bigger than this is not scanned (none is near it)
_CATCHERS: weakref.WeakKeyDictionary[object, dict[str, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary())


def message_names(definition: object) -> tuple[str, ...]:
    """The message names an event definition catches (a multiple event's: each of its own)."""
    inner = (definition.event_definitions if isinstance(definition, MultipleEventDefinition)
             else (definition,))
    return tuple(d.name for d in inner if isinstance(d, MessageEventDefinition))


def catchers(parsed: object, specs: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    """Task spec name -> the messages it catches, over the processes `specs` of the parsed
    version `parsed` (computed once per version)."""
    known = _CATCHERS.get(parsed)
    if known is None:
        known = {}
        for sp in specs:
            for name, ts in sp.task_specs.items():
                names = message_names(getattr(ts, "event_definition", None))
                if names:
                    known[name] = tuple(sorted({*known.get(name, ()), *names}))
        _CATCHERS[parsed] = known
    return known


def waiting_in_state(by_spec: Mapping[str, tuple[str, ...]], state: bytes | None) -> list[str]:
    """The message names the waiting tasks of a stored workflow state catch, sorted."""
    if not by_spec or not state or len(state) > MAX_STATE_BYTES:
        return []
    try:
        dct = orjson.loads(state)
    except orjson.JSONDecodeError:
        return []
    found: set[str] = set()
    workflows = [dct, *(dct.get("subprocesses") or {}).values()] if isinstance(dct, dict) else []
    for wf in workflows:
        tasks = wf.get("tasks") if isinstance(wf, dict) else None
        for task in (tasks or {}).values():
            if isinstance(task, dict) and task.get("state") == TaskState.WAITING:
                found.update(by_spec.get(task.get("task_spec"), ()))
    return sorted(found)

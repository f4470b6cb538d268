"""The spec cache: SpiffWorkflow parses the XML once per procedure version and every case of that
version shares the parsed spec.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.bpmn.check import ParsedSpec, parse
from engine.definition.procedure import Procedure
from engine.expressions import SafeScriptEngine
from engine.process.compile import bpmn_text
from engine.process.layout import lane_names

# ------------------------------------------------------------------------------------------------
# The spec cache

_SPECS: dict[str, ParsedSpec] = {}
_SPECS_LOCK = threading.Lock()


def load_spec(procedure: Procedure) -> ParsedSpec:
    """The parsed BPMN of `procedure`, parsed once per `procedure.version` and then shared.

    A pinned Procedure (rebuilt from the database) is the authority on its version's XML: if the
    cached spec was parsed from another text (a fresh compilation of the same definition by this
    release), the pinned text is parsed and replaces it. Lanes named by a role's title (as compiled)
    or by its id (drawn files, versions pinned before titles) both give tasks the role's id.
    """
    parsed = _SPECS.get(procedure.version)
    if parsed is not None and _same_xml(parsed, procedure):
        return parsed
    with _SPECS_LOCK:
        parsed = _SPECS.get(procedure.version)
        if parsed is None or not _same_xml(parsed, procedure):
            xml = bpmn_text(procedure)
            titles = {name: role for role, name in lane_names(procedure).items()}
            parsed = parse(xml, {r.id for r in procedure.roles}, procedure.version, titles,
                           default_role=procedure.bpmn_default_role)
            _SPECS[procedure.version] = parsed
    return parsed


def _same_xml(parsed: ParsedSpec, procedure: Procedure) -> bool:
    pinned = procedure.pinned_xml
    return pinned is None or parsed.xml is pinned or parsed.xml == pinned


def clear_spec_cache() -> None:
    """Forget every parsed spec (tests; a long-lived process never needs it)."""
    with _SPECS_LOCK:
        _SPECS.clear()


def new_workflow(procedure: Procedure, data: Mapping[str, Any] | None = None) -> BpmnWorkflow:
    """A fresh, not yet started workflow of `procedure` on the safe script engine.

    `data` (e.g. `channel`, `category`, `exempt`) is put in the start task's data so every task and
    condition sees it. Call `do_engine_steps()` (under `clock(now)`) to reach the first user task.
    """
    parsed = load_spec(procedure)
    workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=SafeScriptEngine())
    if data:
        for task in workflow.get_tasks(spec_name="Start"):
            task.set_data(**dict(data))
    return workflow


def step_kind(task_spec: Any) -> str | None:
    """The step kind (intake, decision, issue, …) of a user task, from its `kind` property."""
    extensions = getattr(task_spec, "extensions", None) or {}
    return (extensions.get("properties") or {}).get("kind")



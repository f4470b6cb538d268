"""Drawn service tasks as external tasks (the Camunda 7 pattern): the engine never calls out; a
service task parks its case until a worker fetches, locks and completes it over the API.

The topic is read from `camunda:type="external" camunda:topic="…"` (Camunda 7) or from
`<zeebe:taskDefinition type="…"/>` (Camunda 8); a service task with neither is refused.
"""
from __future__ import annotations

import re
from typing import Any

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.bpmn.multi_instance import guarded
from engine.bpmn.xml import NS, BpmnError

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
TOPIC = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_SERVICE_TASK = f"{{{NS['bpmn']}}}serviceTask"
SERVICE_TASK = _SERVICE_TASK


def topic_problem(node: Any) -> str | None:
    """What a drawn `serviceTask` node lacks to run as an external task, or None."""
    topic = _topic(node)
    if not topic:
        return ('has no topic: a service task runs as an external task; add camunda:type="external" '
                'camunda:topic="my-topic" (in Camunda Modeler 7: Implementation "External", Topic '
                '"my-topic") or <zeebe:taskDefinition type="my-topic"/> (Camunda 8: Task definition '
                'type)')
    if not TOPIC.match(topic):
        return f"topic {topic!r} must be 1 to 128 letters, digits, '_', '.', ':' or '-'"
    return None


def _topic(node: Any) -> str | None:
    if node.get(f"{{{CAMUNDA}}}type") == "external":
        return node.get(f"{{{CAMUNDA}}}topic")
    definition = node.find(f"{{{NS['bpmn']}}}extensionElements/{{{ZEEBE}}}taskDefinition")
    return definition.get("type") if definition is not None else None


def topic_of(node: Any) -> str:
    """The external task topic of a drawn `serviceTask` node; BpmnError saying what to add."""
    problem = topic_problem(node)
    if problem:
        where = f"line {node.sourceline}: " if getattr(node, "sourceline", None) else ""
        raise BpmnError(f"{where}serviceTask {node.get('id')!r} {problem}")
    return str(_topic(node))


class ExternalTask(SpiffBpmnTask):
    """A service task done by an external worker: running it leaves it STARTED (waiting)."""

    def __init__(self, wf_spec: Any, name: str, topic: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.topic = topic

    def _run_hook(self, my_task: Any) -> None:
        return None  # STARTED: the case waits for a worker's complete


class _ExternalTaskParser(SpiffTaskParser):
    def create_task(self) -> ExternalTask:
        extensions = self.parse_extensions()
        return self.spec_class(self.spec, self.bpmn_id, topic_of(self.node),
                               prescript=extensions.get("preScript"),
                               postscript=extensions.get("postScript"), **self.bpmn_attributes)


class OknoBpmnParser(SpiffBpmnParser):
    """SpiffWorkflow's parser with service tasks parsed as external tasks, and multi-instance
    tasks that check their collection (engine.bpmn.multi_instance)."""

    OVERRIDE_PARSER_CLASSES = {
        tag: (guarded(parser), spec) for tag, (parser, spec) in {
            **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
            _SERVICE_TASK: (_ExternalTaskParser, ExternalTask)}.items()}

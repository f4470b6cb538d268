"""BPMN 2.0 for procedures: compile step definitions, check hand-drawn files, parse each version once.

A definition with `steps` is compiled here to BPMN 2.0 XML with a diagram (BPMNDI), so an analyst can
open it in Camunda Modeler or bpmn.io; a definition with `bpmn:` names a file drawn in a modeler,
which `check_bpmn` vets when the catalog loads. Either way SpiffWorkflow parses the XML once per
procedure version (`load_spec`) and every case of that version shares the parsed spec.

Shape of a compiled procedure (see `compile_procedure`):

- a pool (collaboration participant) with one horizontal lane per role; the lane *name* is the role
  id, so the engine reads a task's role as `task.task_spec.lane`;
- `start` → one `userTask` per step (id = step id, name = step title, a spiffworkflow property
  `kind` = step kind, read back with `step_kind`) → `end_approved`;
- a step with a `condition` sits between two exclusive gateways: the condition flow runs it, the
  default flow skips it;
- after the decision step an exclusive gateway sends `outcome == 'approve'` on to the remaining
  steps and `end_approved`, and everything else (the refusal) to `end_refused`. The engine sets
  `outcome` ('approve' / 'refuse') and `ground` in the decision task's data when it completes it.

Timers and time. SpiffWorkflow 3.2 reads "now" in exactly one module,
`SpiffWorkflow.bpmn.specs.event_definitions.timer`, always as `datetime.now(timezone.utc)`: when a
timer task is first refreshed it evaluates its expression (through the script engine, so `"P3D"`
needs quotes), stores the due time as an ISO UTC string in `task.internal_data['event_value']`, and
on every later refresh compares that with now and sets `event_fired`. Timers never fire by
themselves: `refresh_timers()` (also run at the end of every `do_engine_steps()`) re-checks them.
Nothing in SpiffWorkflow takes a clock, so this module replaces that module's `datetime` name with a
subclass whose `now()` reads the clock set by `clock(...)` (a context variable: per thread and per
asyncio task) and falls back to the real time outside it. Run every engine step of a case under
`with clock(now):` so due times are computed from the injected time, and fire due timers with
`fire_timers(workflow, now)`. The alternative, rewriting `event_value` to a past time, also works
(the test shows it) but computes due times from the wall clock. `timer_due_times(workflow)` lists
pending due times for the scheduler's index.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree  # SpiffWorkflow's own XML dependency
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.expressions import ExpressionError, SafeScriptEngine, compile_expression, compile_script
from engine.procedure import Procedure, Step

__all__ = [
    "BpmnError",
    "ParsedSpec",
    "bpmn_text",
    "check_bpmn",
    "clear_spec_cache",
    "clock",
    "compile_procedure",
    "fire_timers",
    "load_spec",
    "new_workflow",
    "process_id",
    "step_kind",
    "timer_due_times",
]

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
TARGET_NAMESPACE = "https://okno.example/bpmn"
RESERVED_IDS = frozenset({"start", "end_approved", "end_refused"})


class BpmnError(ValueError):
    """A BPMN document that cannot be run safely, or a procedure that cannot be compiled."""


# ------------------------------------------------------------------------------------------------
# Compiling a step definition


def process_id(number: str) -> str:
    """The BPMN process id of a compiled procedure: '6.1.1' -> 'procedure_6_1_1'."""
    return "procedure_" + number.replace(".", "_")


# Layout, in diagram pixels. Nodes sit on a grid: x grows along the flow, y is the lane's band.
_SIZE = {"event": (36, 36), "gateway": (50, 50), "task": (100, 80)}
_POOL_X, _POOL_Y, _POOL_HEADER = 120, 60, 30
_LANE_H = 150
_FIRST_GAP, _GAP = 50, 70  # from the lane header to the first node, and between nodes
_LABEL_GAP = 110  # after a gateway, whose outgoing flow carries a condition label
_TRACK = 15  # distance of skip / refusal routes from the lane edge


@dataclass
class _Node:
    id: str
    tag: str  # startEvent, endEvent, exclusiveGateway, userTask
    kind: str  # event, gateway, task
    lane: int
    name: str | None = None
    step: Step | None = None
    default: str | None = None  # id of the default outgoing flow (gateways)
    x: int = 0  # left edge

    @property
    def w(self) -> int:
        return _SIZE[self.kind][0]

    @property
    def h(self) -> int:
        return _SIZE[self.kind][1]

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    def cy(self, layout: _Layout) -> int:
        return layout.lane_mid(self.lane)

    def y(self, layout: _Layout) -> int:
        return layout.lane_mid(self.lane) - self.h // 2


@dataclass
class _Flow:
    id: str
    source: _Node
    target: _Node
    name: str | None = None
    condition: str | None = None
    route: str = "direct"  # direct, over (top track of source's lane), under (bottom track)


@dataclass
class _Layout:
    lanes: list[str]  # role ids, top to bottom
    nodes: list[_Node] = field(default_factory=list)
    flows: list[_Flow] = field(default_factory=list)

    def lane_top(self, lane: int) -> int:
        return _POOL_Y + lane * _LANE_H

    def lane_mid(self, lane: int) -> int:
        return self.lane_top(lane) + _LANE_H // 2


def compile_procedure(procedure: Procedure) -> str:
    """BPMN 2.0 XML (with diagram) for a step definition. Deterministic: same Procedure, same text.

    A Procedure rebuilt from a stored version carries the XML compiled when the version was first
    published (`pinned_xml`, see `engine.versions`): that text is returned, not a new compilation,
    so a release that changes the compiler never changes the process of a case already running.
    """
    if procedure.pinned_xml is not None:
        return procedure.pinned_xml
    if not procedure.steps:
        raise BpmnError(f"procedure {procedure.number} has no steps to compile "
                        f"(it is drawn in {procedure.bpmn or 'a BPMN file'})")
    layout = _plan(procedure)
    _place(layout)
    return _render(procedure, layout)


def bpmn_text(procedure: Procedure) -> str:
    """The procedure's BPMN: the hand-drawn file if it names one, else the compiled steps."""
    if procedure.bpmn_xml is not None:
        return procedure.bpmn_xml
    return compile_procedure(procedure)


def _plan(procedure: Procedure) -> _Layout:
    """Nodes in flow order and the flows between them (no coordinates yet)."""
    steps = procedure.steps
    for step in steps:
        if step.id in RESERVED_IDS:
            raise BpmnError(f"step id {step.id!r} is reserved in the compiled BPMN")
    decisions = [s for s in steps if s.kind == "decision"]
    if len(decisions) != 1:
        raise BpmnError(f"procedure {procedure.number} must have exactly one decision step, "
                        f"found {len(decisions)}")
    if decisions[0].condition:
        raise BpmnError(f"the decision step {decisions[0].id!r} cannot have a condition")
    used = {s.role for s in steps}
    lanes = [r.id for r in procedure.roles if r.id in used]
    lanes += sorted(used - set(lanes))  # a role not declared: the checks below name it
    index = {role: i for i, role in enumerate(lanes)}
    layout = _Layout(lanes)
    nodes, flows = layout.nodes, layout.flows

    def add(node: _Node) -> _Node:
        nodes.append(node)
        return node

    def connect(source: _Node, target: _Node, name: str | None = None,
                condition: str | None = None, route: str = "direct") -> _Flow:
        flow = _Flow(f"Flow_{source.id}_{target.id}", source, target, name, condition, route)
        flows.append(flow)
        return flow

    prev = add(_Node("start", "startEvent", "event", index[steps[0].role], "Обращение подано"))
    pending: tuple[str, str | None] | None = None  # (name, condition) of the flow out of `prev`
    refuse_from: _Node | None = None
    for step in steps:
        lane = index[step.role]
        task = _Node(step.id, "userTask", "task", lane, step.title, step)
        if step.condition:
            split = add(_Node(f"Gateway_split_{step.id}", "exclusiveGateway", "gateway", lane))
            connect(prev, split, *(pending or (None, None)))
            add(task)
            connect(split, task, step.condition, step.condition)
            join = add(_Node(f"Gateway_join_{step.id}", "exclusiveGateway", "gateway", lane))
            connect(task, join)
            split.default = connect(split, join, "иначе", route="over").id
            prev, pending = join, None
        else:
            add(task)
            connect(prev, task, *(pending or (None, None)))
            prev, pending = task, None
        if step.kind == "decision":
            gateway = add(_Node(f"Gateway_outcome_{step.id}", "exclusiveGateway", "gateway", lane,
                                "Решение?"))
            connect(task, gateway)
            refuse_from = gateway
            prev, pending = gateway, ("положительное", "outcome == 'approve'")
    approved_name = "Результат выдан" if steps[-1].kind == "issue" else "Положительное решение"
    end_approved = add(_Node("end_approved", "endEvent", "event", prev.lane, approved_name))
    connect(prev, end_approved, *(pending or (None, None)))
    assert refuse_from is not None
    end_refused = add(_Node("end_refused", "endEvent", "event", refuse_from.lane, "Отказ"))
    refuse_from.default = connect(refuse_from, end_refused, "отказ", route="under").id
    return layout


def _place(layout: _Layout) -> None:
    """Give every node its x: one column per node along the flow; end_refused shares the last."""
    x = _POOL_X + _POOL_HEADER + _FIRST_GAP
    last: _Node | None = None
    for node in layout.nodes:
        if node.id == "end_refused" and last is not None and last.lane != node.lane:
            node.x = last.x  # beside end_approved, in the decision's lane
            continue
        node.x = x
        x += node.w + (_LABEL_GAP if node.kind == "gateway" else _GAP)
        last = node


def _waypoints(layout: _Layout, flow: _Flow) -> list[tuple[int, int]]:
    s, t = flow.source, flow.target
    sy, ty = s.cy(layout), t.cy(layout)
    if flow.route == "over":  # skip a conditional step along the top of its lane
        track = layout.lane_top(s.lane) + _TRACK
        return [(s.cx, sy - s.h // 2), (s.cx, track), (t.cx, track), (t.cx, ty - t.h // 2)]
    if flow.route == "under":  # the refusal, along the bottom of the decision's lane
        track = layout.lane_top(s.lane) + _LANE_H - _TRACK
        return [(s.cx, sy + s.h // 2), (s.cx, track), (t.cx, track), (t.cx, ty + t.h // 2)]
    start, end = (s.x + s.w, sy), (t.x, ty)
    if sy == ty:
        return [start, end]
    mid = (start[0] + end[0]) // 2
    return [start, (mid, sy), (mid, ty), end]


def _label_bounds(layout: _Layout, flow: _Flow, points: list[tuple[int, int]]) -> tuple[int, ...]:
    if flow.route == "over":
        return (min(points[1][0], points[2][0]) + 10, points[1][1] + 3, 40, 14)
    if flow.route == "under":
        return (points[0][0] + 5, points[1][1] - 17, 40, 14)
    x0, y0 = points[0]
    return (x0 + 5, y0 - 30, _LABEL_GAP - 10, 27)


def _render(procedure: Procedure, layout: _Layout) -> str:
    pid = process_id(procedure.number)
    out: list[str] = []
    w = out.append
    w('<?xml version="1.0" encoding="UTF-8"?>')
    w('<bpmn:definitions ' + " ".join(
        f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items() if prefix != "xsi")
      + f' xmlns:xsi="{NS["xsi"]}" id="Definitions_{pid}" targetNamespace="{TARGET_NAMESPACE}"'
      + ' exporter="okno" exporterVersion="1">')
    w(f'  <bpmn:collaboration id="Collaboration_{pid}">')
    w(f'    <bpmn:participant id="Participant_{pid}" name={quoteattr(procedure.name)} '
      f'processRef="{pid}" />')
    w('  </bpmn:collaboration>')
    w(f'  <bpmn:process id="{pid}" name={quoteattr(procedure.name)} isExecutable="true">')
    w('    <bpmn:documentation>'
      + escape(f"Процедура {procedure.number}; версия {procedure.version}. Составлено okno из "
               f"{Path(procedure.source).name}: правьте определение, а не этот файл.")
      + '</bpmn:documentation>')
    w('    <bpmn:laneSet id="LaneSet_1">')
    for i, role_id in enumerate(layout.lanes):
        w(f'      <bpmn:lane id="Lane_{role_id}" name="{role_id}">')
        for node in layout.nodes:
            if node.lane == i:
                w(f'        <bpmn:flowNodeRef>{node.id}</bpmn:flowNodeRef>')
        w('      </bpmn:lane>')
    w('    </bpmn:laneSet>')
    incoming: dict[str, list[str]] = {n.id: [] for n in layout.nodes}
    outgoing: dict[str, list[str]] = {n.id: [] for n in layout.nodes}
    for flow in layout.flows:
        outgoing[flow.source.id].append(flow.id)
        incoming[flow.target.id].append(flow.id)
    for node in layout.nodes:
        attrs = f'id="{node.id}"'
        if node.name:
            attrs += f" name={quoteattr(node.name)}"
        if node.default:
            attrs += f' default="{node.default}"'
        w(f"    <bpmn:{node.tag} {attrs}>")
        if node.step is not None:
            if node.step.notes:
                w(f"      <bpmn:documentation>{escape(node.step.notes)}</bpmn:documentation>")
            w("      <bpmn:extensionElements>")
            w("        <spiffworkflow:properties>")
            w(f'          <spiffworkflow:property name="kind" value="{node.step.kind}" />')
            if node.step.term:
                w(f'          <spiffworkflow:property name="term" value={quoteattr(node.step.term)} />')
            w("        </spiffworkflow:properties>")
            w("      </bpmn:extensionElements>")
        for fid in incoming[node.id]:
            w(f"      <bpmn:incoming>{fid}</bpmn:incoming>")
        for fid in outgoing[node.id]:
            w(f"      <bpmn:outgoing>{fid}</bpmn:outgoing>")
        w(f"    </bpmn:{node.tag}>")
    for flow in layout.flows:
        attrs = f'id="{flow.id}"'
        if flow.name:
            attrs += f" name={quoteattr(flow.name)}"
        attrs += f' sourceRef="{flow.source.id}" targetRef="{flow.target.id}"'
        if flow.condition is None:
            w(f"    <bpmn:sequenceFlow {attrs} />")
        else:
            w(f"    <bpmn:sequenceFlow {attrs}>")
            w(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
              f"{escape(flow.condition)}</bpmn:conditionExpression>")
            w("    </bpmn:sequenceFlow>")
    w("  </bpmn:process>")

    # The diagram: a pool holding the lanes as horizontal bands, then nodes and edges.
    right = max(n.x + n.w for n in layout.nodes) + _FIRST_GAP
    pool_w = right - _POOL_X
    w('  <bpmndi:BPMNDiagram id="BPMNDiagram_1">')
    w(f'    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_{pid}">')
    w(f'      <bpmndi:BPMNShape id="Participant_{pid}_di" bpmnElement="Participant_{pid}" '
      f'isHorizontal="true">')
    w(f'        <dc:Bounds x="{_POOL_X}" y="{_POOL_Y}" width="{pool_w}" '
      f'height="{_LANE_H * len(layout.lanes)}" />')
    w("      </bpmndi:BPMNShape>")
    for i, role_id in enumerate(layout.lanes):
        w(f'      <bpmndi:BPMNShape id="Lane_{role_id}_di" bpmnElement="Lane_{role_id}" '
          f'isHorizontal="true">')
        w(f'        <dc:Bounds x="{_POOL_X + _POOL_HEADER}" y="{layout.lane_top(i)}" '
          f'width="{pool_w - _POOL_HEADER}" height="{_LANE_H}" />')
        w("      </bpmndi:BPMNShape>")
    for node in layout.nodes:
        extra = ' isMarkerVisible="true"' if node.kind == "gateway" else ""
        w(f'      <bpmndi:BPMNShape id="{node.id}_di" bpmnElement="{node.id}"{extra}>')
        w(f'        <dc:Bounds x="{node.x}" y="{node.y(layout)}" width="{node.w}" '
          f'height="{node.h}" />')
        if node.kind != "task" and node.name:
            above = node.id == "end_refused" or node.kind == "gateway"
            ly = node.y(layout) - 32 if above else node.y(layout) + node.h + 5
            w(f'        <bpmndi:BPMNLabel><dc:Bounds x="{node.cx - 45}" y="{ly}" width="90" '
              f'height="27" /></bpmndi:BPMNLabel>')
        w("      </bpmndi:BPMNShape>")
    for flow in layout.flows:
        points = _waypoints(layout, flow)
        w(f'      <bpmndi:BPMNEdge id="{flow.id}_di" bpmnElement="{flow.id}">')
        for px, py in points:
            w(f'        <di:waypoint x="{px}" y="{py}" />')
        if flow.name:
            lx, ly, lw, lh = _label_bounds(layout, flow, points)
            w(f'        <bpmndi:BPMNLabel><dc:Bounds x="{lx}" y="{ly}" width="{lw}" '
              f'height="{lh}" /></bpmndi:BPMNLabel>')
        w("      </bpmndi:BPMNEdge>")
    w("    </bpmndi:BPMNPlane>")
    w("  </bpmndi:BPMNDiagram>")
    w("</bpmn:definitions>")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------
# Checking and parsing BPMN

# Elements whose text SpiffWorkflow hands to the script engine as an expression.
_EXPRESSION_TAGS = ("conditionExpression", "timeDate", "timeDuration", "timeCycle", "condition",
                    "loopCondition", "completionCondition", "loopCardinality", "messagePath",
                    "formalExpression")
_REFUSED_TAGS = {
    "serviceTask": "service tasks are not supported (nothing may call out of the engine)",
    "businessRuleTask": "business rule (DMN) tasks are not supported",
    "sendTask": "send tasks are not supported",
    "receiveTask": "receive tasks are not supported",
}
# lxml parser for untrusted files: no DTD, no entities, no network, no huge trees.
_XML_PARSER_ARGS: dict[str, Any] = {
    "resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
    "encoding": "utf-8",
}

# SpiffWorkflow's XSD validator keeps its error log on a shared object: parse one at a time.
_PARSE_LOCK = threading.RLock()


@dataclass(frozen=True, eq=False)
class ParsedSpec:
    """A procedure version's parsed BPMN: what `BpmnWorkflow(spec, subprocess_specs)` needs.

    Shared by every case of the version: never mutate `spec` or `subprocess_specs`.
    """

    version: str
    process_id: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    xml: str = field(repr=False)

    @functools.cached_property
    def has_timers(self) -> bool:
        """Whether any process of this version has a timer event (else no timer bookkeeping)."""
        specs = [self.spec, *self.subprocess_specs.values()]
        return any(isinstance(getattr(ts, "event_definition", None), _spiff_timer.TimerEventDefinition)
                   for sp in specs for ts in sp.task_specs.values())


def _q(tag: str, prefix: str = "bpmn") -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _line(node: Any) -> str:
    line = getattr(node, "sourceline", None)
    return f"line {line}: " if line else ""


def _describe(node: Any) -> str:
    tag = etree.QName(node).localname
    ident = node.get("id")
    name = node.get("name")
    text = f"{tag} {ident!r}" if ident else tag
    return f"{text} ({name})" if name else text


def _read_xml(xml: str | bytes) -> Any:
    """Parse with lxml, refusing DTDs; a syntax error names its line."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(**_XML_PARSER_ARGS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else None)
        msg = exc.msg or str(exc)
        raise BpmnError(f"not well-formed XML at line {line}: {msg}") from None
    if root.getroottree().docinfo.doctype:
        raise BpmnError("a DOCTYPE is not allowed in BPMN files")
    if root.tag != _q("definitions"):
        raise BpmnError(f"line {root.sourceline}: the root element must be bpmn:definitions "
                        f"({NS['bpmn']}), not {root.tag}")
    return root


def _main_process(root: Any) -> Any:
    """The one top-level process; every other process must be reached from it by call activities."""
    processes = {p.get("id"): p for p in root.findall(_q("process"))}
    calls: dict[str, list[str]] = {pid: [] for pid in processes}
    for pid, process in processes.items():
        for call in process.iter(_q("callActivity")):
            target = call.get("calledElement")
            if not target:
                raise BpmnError(f"{_line(call)}{_describe(call)} has no calledElement")
            if target not in processes:
                raise BpmnError(f"{_line(call)}{_describe(call)} calls process {target!r}, which "
                                f"is not in this file")
            calls[pid].append(target)
    called = {target for targets in calls.values() for target in targets}
    top = [p for pid, p in processes.items() if pid not in called]
    if len(top) > 1:
        names = ", ".join(repr(p.get("id")) for p in top)
        raise BpmnError(f"more than one top-level process ({names}); only processes called by a "
                        f"call activity may sit beside the main one")
    if not top:
        if processes:
            raise BpmnError("every process is called by a call activity: the calls form a cycle")
        raise BpmnError("no process: a BPMN file must hold the procedure's executable process")
    main = top[0]
    if main.get("isExecutable") != "true":
        raise BpmnError(f"{_line(main)}no executable process: mark process {main.get('id')!r} "
                        f'isExecutable="true"')
    # Depth-first from the main process: a cycle of calls would recurse for ever at run time.
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(pid: str, path: list[str]) -> None:
        state[pid] = 1
        for target in calls[pid]:
            if state.get(target) == 1:
                cycle = " -> ".join(path[path.index(target):] + [target]) if target in path else target
                raise BpmnError(f"call activities form a cycle: {cycle}")
            if target not in state:
                visit(target, path + [target])
        state[pid] = 2

    visit(main.get("id"), [main.get("id")])
    for pid, process in processes.items():
        if pid not in state:
            raise BpmnError(f"{_line(process)}process {pid!r} is called only from itself or "
                            f"from processes the main process {main.get('id')!r} never reaches")
    return main


def _check_lanes(root: Any, roles: set[str]) -> None:
    for lane in root.iter(_q("lane")):
        name = (lane.get("name") or "").strip()
        if not name:
            raise BpmnError(f"{_line(lane)}lane {lane.get('id')!r} has no name; name each lane "
                            f"after a role: {', '.join(sorted(roles))}")
        if name not in roles:
            raise BpmnError(f"{_line(lane)}lane {name!r} is not a declared role; declared roles: "
                            f"{', '.join(sorted(roles)) or 'none'}")
        if lane.find(_q("childLaneSet")) is not None:
            raise BpmnError(f"{_line(lane)}lane {name!r} has child lanes; use one level of lanes")


def _check_expressions(root: Any) -> None:
    for tag, why in _REFUSED_TAGS.items():
        for node in root.iter(_q(tag)):
            raise BpmnError(f"{_line(node)}{_describe(node)}: {why}")
    for tag in _EXPRESSION_TAGS:
        for node in root.iter(_q(tag)):
            text = (node.text or "").strip()
            if not text:
                if tag in ("conditionExpression", "timeDate", "timeDuration", "timeCycle"):
                    raise BpmnError(f"{_line(node)}empty {tag}")
                continue
            try:
                expression = compile_expression(text)
            except ExpressionError as exc:
                raise BpmnError(f"{_line(node)}{tag} refused: {exc}") from None
            if tag in _TIMER_TAGS:
                _check_timer(node, tag, text, expression)
    scripts = [(n, "script") for n in root.iter(_q("script"))]
    scripts += [(n, etree.QName(n).localname)
                for tag in ("preScript", "postScript") for n in root.iter(_q(tag, "spiffworkflow"))]
    for node, what in scripts:
        text = node.text or ""
        if not text.strip():
            continue
        try:
            compile_script(text)
        except ExpressionError as exc:
            raise BpmnError(f"{_line(node)}{what} refused: {exc}") from None
    for task in root.iter(_q("scriptTask")):
        fmt = (task.get("scriptFormat") or "python").lower()
        if fmt not in ("python", "text/x-python", "okno"):
            raise BpmnError(f"{_line(task)}{_describe(task)}: script format {fmt!r} is not supported")


_TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")
_ISO_NAME = re.compile(r"^(R\d*|P(\d|T\d)|\d{4}-)", re.IGNORECASE)


def _check_timer(node: Any, tag: str, text: str, expression: Any) -> None:
    """A constant timer text must be a quoted ISO 8601 value SpiffWorkflow can read."""
    if expression.names:
        if len(expression.names) == 1 and _ISO_NAME.match(text.strip()):
            raise BpmnError(f"{_line(node)}{tag} {text.strip()!r} must be quoted: "
                            f"\"{text.strip()}\" (timer texts are expressions)")
        return  # computed from task data: checked when the timer starts
    try:
        value = expression.evaluate({})
    except ExpressionError as exc:
        raise BpmnError(f"{_line(node)}{tag} refused: {exc}") from None
    if not isinstance(value, str):
        raise BpmnError(f"{_line(node)}{tag} must give an ISO 8601 text, not {value!r}")
    definition = _spiff_timer.TimerEventDefinition
    try:
        if tag == "timeDuration":
            definition.parse_iso_duration(value)
        elif tag == "timeDate":
            definition.get_datetime(value)
        else:
            definition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception, ValueError, …
        raise BpmnError(f"{_line(node)}{tag} {value!r} is not an ISO 8601 "
                        f"{'duration' if tag == 'timeDuration' else 'date' if tag == 'timeDate' else 'cycle'}"
                        ) from None


def _spiff_message(exc: Exception, root: Any = None) -> str:
    """SpiffWorkflow's message with the element and line it names, namespaces shortened."""
    text = (str(exc).strip() or exc.__class__.__name__).rstrip(".")
    for prefix, uri in NS.items():
        text = text.replace("{" + uri + "}", prefix + ":")
    tag, ident, line = (getattr(exc, a, "") for a in ("tag", "id", "line_number"))
    if ident and not line and root is not None:
        found = root.xpath("//*[@id=$id]", id=ident)
        line = found[0].sourceline if found else ""
    where = " ".join(p for p in (tag, repr(ident) if ident else "") if p)
    if where:
        text += f" (at {where})"
    return f"line {line}: {text}" if line else text


def _parse(xml: str, roles: set[str], version: str = "") -> ParsedSpec:
    """Check `xml` and parse it with SpiffWorkflow; raise BpmnError for anything unsafe or broken."""
    root = _read_xml(xml)
    with _PARSE_LOCK:
        try:
            VALIDATOR.validate(root)
        except SpiffWorkflowException as exc:
            raise BpmnError(f"not valid BPMN 2.0: {_spiff_message(exc)}") from None
    main = _main_process(root)
    _check_lanes(root, roles)
    _check_expressions(root)
    pid = main.get("id")
    with _PARSE_LOCK:
        parser = SpiffBpmnParser()  # validated above, under the lock
        try:
            parser.add_bpmn_xml(root)
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
        except SpiffWorkflowException as exc:
            raise BpmnError(f"SpiffWorkflow cannot parse it: {_spiff_message(exc, root)}") from None
        except (etree.LxmlError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BpmnError(f"SpiffWorkflow cannot parse it: {exc.__class__.__name__}: {exc}") from None
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if not getattr(task_spec, "manual", False):
                continue
            node = by_id.get(task_spec.name)
            if not task_spec.lane:
                raise BpmnError(f"{_line(node)}{_describe(node) if node is not None else task_spec.name}"
                                f" is in no lane: put every user task in a role's lane")
            if task_spec.lane not in roles:  # e.g. a lane of an embedded subprocess
                raise BpmnError(f"{_line(node)}task {task_spec.name!r} is in lane "
                                f"{task_spec.lane!r}, which is not a declared role")
    return ParsedSpec(version, pid, spec, subprocess_specs, xml)


def check_bpmn(xml: str, roles: set[str]) -> None:
    """Raise BpmnError unless `xml` is well-formed, valid BPMN that runs safely with `roles` as lanes.

    Refused: malformed XML or a DOCTYPE; no executable process, or more than one top-level
    process besides call-activity targets; lanes not named after a declared role; user or manual
    tasks outside a lane; service, send, receive and DMN tasks; conditions, timers and scripts the
    safe evaluator refuses; anything SpiffWorkflow's XSD validator or parser rejects.
    """
    _parse(xml, set(roles))


# ------------------------------------------------------------------------------------------------
# The spec cache

_SPECS: dict[str, ParsedSpec] = {}
_SPECS_LOCK = threading.Lock()


def load_spec(procedure: Procedure) -> ParsedSpec:
    """The parsed BPMN of `procedure`, parsed once per `procedure.version` and then shared.

    A pinned Procedure (rebuilt from the database) is the authority on its version's XML: if the
    cached spec was parsed from another text (a fresh compilation of the same definition by this
    release), the pinned text is parsed and replaces it.
    """
    parsed = _SPECS.get(procedure.version)
    if parsed is not None and _same_xml(parsed, procedure):
        return parsed
    with _SPECS_LOCK:
        parsed = _SPECS.get(procedure.version)
        if parsed is None or not _same_xml(parsed, procedure):
            xml = bpmn_text(procedure)
            parsed = _parse(xml, {r.id for r in procedure.roles}, procedure.version)
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


# ------------------------------------------------------------------------------------------------
# Time: the injected clock SpiffWorkflow's timers read

_CLOCK: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "okno_bpmn_clock", default=None)


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` is the injected clock, when one is set (see the module docstring)."""

    @classmethod
    def now(cls, tz=None):
        source = _CLOCK.get()
        if source is None:
            return super().now(tz)
        value = source()
        if value.tzinfo is None:
            raise ValueError("the injected clock must return an aware datetime (UTC)")
        value = cls.combine(value.date(), value.time(), value.tzinfo)
        return value.astimezone(tz) if tz is not None else value.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime  # SpiffWorkflow timers read "now" only through this name


@contextlib.contextmanager
def clock(now: datetime | Callable[[], datetime]) -> Iterator[None]:
    """Within the block, SpiffWorkflow timers take `now` (an aware datetime, or a callable) as now."""
    source = now if callable(now) else (lambda: now)
    if not callable(now) and now.tzinfo is None:
        raise ValueError("clock() needs an aware datetime, e.g. datetime(..., tzinfo=timezone.utc)")
    token = _CLOCK.set(source)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def fire_timers(workflow: BpmnWorkflow, now: datetime) -> None:
    """Fire every timer of `workflow` that is due at `now` and run the engine steps that follow."""
    with clock(now):
        workflow.refresh_timers()
        workflow.do_engine_steps()


def timer_due_times(workflow: BpmnWorkflow) -> list[tuple[str, datetime]]:
    """(timer task id, due time in UTC) of every waiting timer, earliest first, for the scheduler.

    Keyed by the waiting task's id: one timer of the diagram may wait in several copies (e.g. in
    parallel calls of one process)."""
    due: list[tuple[str, datetime]] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        value = task.internal_data.get("event_value")
        if isinstance(definition, _spiff_timer.TimerEventDefinition) and value is not None:
            if isinstance(value, dict):  # a cycle timer: the next occurrence
                value = value.get("next")
            if not isinstance(value, str):
                continue
            # A due time, or a timeDate text as written (naive = local time, as SpiffWorkflow reads it).
            when = _spiff_timer.TimerEventDefinition.parse_time_or_duration(value)
            if isinstance(when, datetime):
                due.append((str(task.id), datetime.fromisoformat(when.isoformat())))
    return sorted(due, key=lambda item: (item[1], item[0]))


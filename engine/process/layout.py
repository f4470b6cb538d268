"""The diagram (BPMNDI) of a compiled procedure: nodes on a grid, one lane per role.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.bpmn.xml import RESERVED_IDS, BpmnError
from engine.definition.procedure import Procedure, Step

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



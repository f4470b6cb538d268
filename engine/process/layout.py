"""The diagram (BPMNDI) of a compiled procedure: nodes on a grid, one lane per role.

Names fit their shapes: bpmn-js wraps a task's or lane's name to the shape's width and lets extra
lines overflow, so a task is made wide enough for its title (`_task_width`) and a lane tall enough
for its role's title (`_lane_height`), estimated with a conservative average character width of
its 12px font. Flow labels (wrapped by bpmn-js at 90px) are shortened to `_FLOW_LABEL_MAX`
characters; compile.py keeps the full text in the flow's documentation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.bpmn.xml import RESERVED_IDS, BpmnError
from engine.definition.procedure import Procedure, Step
from engine.process.labels import condition_title

# Layout, in diagram pixels. Nodes sit on a grid: x grows along the flow, y is the lane's band.
_SIZE = {"event": (36, 36), "gateway": (50, 50), "task": (100, 80)}
_POOL_X, _POOL_Y, _POOL_HEADER = 120, 60, 30
_FIRST_GAP, _GAP = 50, 70  # from the lane header to the first node, and between nodes
_LABEL_GAP = 110  # after a gateway, whose outgoing flow carries a condition label
_TRACK = 15  # distance of skip / refusal routes from the lane edge
_CHAR_W, _LINE_H, _PAD = 7.5, 15, 5  # bpmn-js labels: 12px font, padding inside a shape
_TASK_WIDTHS = (100, 120, 140, 160, 180, 200, 240, 280)
_LANE_HEIGHTS = (150, 180, 210, 240, 270, 300, 360, 420)
_LANE_HEADER_LINES = 2  # a lane's name is drawn across its 30px header
_FLOW_LABEL_MAX = 40  # bpmn-js wraps flow labels at 90px: three lines of 11px text


def wrap(text: str, width: float) -> list[str]:
    """`text` broken into lines as bpmn-js would wrap it in a box `width` pixels wide (estimate)."""
    per_line = max(1, int((width - 2 * _PAD) / _CHAR_W))
    lines: list[str] = []
    for word in text.split():
        while len(word) > per_line:  # a word longer than the line is cut, as bpmn-js does
            lines.append(word[:per_line])
            word = word[per_line:]
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def fits(text: str, width: float, height: float) -> bool:
    """Whether `text`, wrapped to `width`, fits in `height` pixels."""
    return len(wrap(text, width)) * _LINE_H <= height - 2 * _PAD


def _task_width(title: str) -> int:
    """The narrowest task width its title fits in without a word cut in two."""
    h = _SIZE["task"][1]
    longest = max((len(word) for word in title.split()), default=0) * _CHAR_W + 2 * _PAD
    return next((w for w in _TASK_WIDTHS if w >= longest and fits(title, w, h)), _TASK_WIDTHS[-1])


def _lane_height(title: str) -> int:
    lines = _LANE_HEADER_LINES * _LINE_H + 2 * _PAD
    return next((h for h in _LANE_HEIGHTS if fits(title, h, lines)), _LANE_HEIGHTS[-1])


def header_label(text: str, length: float) -> str:
    """`text` as it fits across a pool's header `length` pixels long (two lines), cut at a word
    with an ellipsis when it does not; the full text stays in the process's name."""
    lines = _LANE_HEADER_LINES * _LINE_H + 2 * _PAD
    if fits(text, length, lines):
        return text
    words = text.split()
    while len(words) > 1 and not fits(" ".join(words) + "…", length, lines):
        words.pop()
    return " ".join(words).rstrip(" ,;:—–-") + "…"


def short_label(text: str) -> str:
    """A flow label of at most `_FLOW_LABEL_MAX` characters (cut at a word, with an ellipsis)."""
    if len(text) <= _FLOW_LABEL_MAX:
        return text
    cut = text[: _FLOW_LABEL_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:—–-")
    return cut + "…"


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
    width: int | None = None  # tasks: sized to their name

    @property
    def w(self) -> int:
        return self.width or _SIZE[self.kind][0]

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
    name: str | None = None  # the label (shortened); `title` is the full text
    condition: str | None = None
    route: str = "direct"
    title: str | None = None  # direct, over (top track of source's lane), under (bottom track)


@dataclass
class _Layout:
    lanes: list[str]  # role ids, top to bottom
    names: list[str] = field(default_factory=list)  # the lanes' names (role titles)
    heights: list[int] = field(default_factory=list)
    nodes: list[_Node] = field(default_factory=list)
    flows: list[_Flow] = field(default_factory=list)

    def lane_top(self, lane: int) -> int:
        return _POOL_Y + sum(self.heights[:lane])

    def lane_h(self, lane: int) -> int:
        return self.heights[lane]

    def lane_mid(self, lane: int) -> int:
        return self.lane_top(lane) + self.heights[lane] // 2

    @property
    def height(self) -> int:
        return sum(self.heights)


def lane_names(procedure: Procedure) -> dict[str, str]:
    """Role id → the name of its lane: the role's title, or its id when titles are ambiguous
    (two roles share a title, or a title is another role's id), so a lane always names one role."""
    titles = [r.title.strip() for r in procedure.roles]
    ids = {r.id for r in procedure.roles}
    if len(set(titles)) != len(titles) or any(not t or (t in ids) for t in titles):
        return {r.id: r.id for r in procedure.roles}
    return {r.id: t for r, t in zip(procedure.roles, titles, strict=True)}

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
    named = lane_names(procedure)
    names = [named.get(role, role) for role in lanes]
    layout = _Layout(lanes, names, [_lane_height(n) for n in names])
    nodes, flows = layout.nodes, layout.flows

    def add(node: _Node) -> _Node:
        nodes.append(node)
        return node

    def connect(source: _Node, target: _Node, name: str | None = None,
                condition: str | None = None, route: str = "direct") -> _Flow:
        label = short_label(name) if name else None
        flow = _Flow(f"Flow_{source.id}_{target.id}", source, target, label, condition, route,
                     name)
        flows.append(flow)
        return flow

    prev = add(_Node("start", "startEvent", "event", index[steps[0].role], "Обращение подано"))
    pending: tuple[str, str | None] | None = None  # (name, condition) of the flow out of `prev`
    refuse_from: _Node | None = None
    for step in steps:
        lane = index[step.role]
        task = _Node(step.id, "userTask", "task", lane, step.title, step,
                     width=_task_width(step.title))
        if step.condition:
            split = add(_Node(f"Gateway_split_{step.id}", "exclusiveGateway", "gateway", lane,
                              "Нужен этот шаг?"))
            connect(prev, split, *(pending or (None, None)))
            add(task)
            connect(split, task, condition_title(procedure, step.condition), step.condition)
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
        track = layout.lane_top(s.lane) + layout.lane_h(s.lane) - _TRACK
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
    h = len(wrap(flow.name or "", 90 + 2 * _PAD)) * 14
    return (x0 + 5, y0 - h - 3, _LABEL_GAP - 10, h)



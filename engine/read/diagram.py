"""A case's process diagram: the shapes and edges of its BPMN's diagram (BPMNDI), each flow node
marked done, current or not reached, for the case page to draw as SVG on the server.

The BPMN is the one the case runs (`bpmn_text` of its pinned version: the compiled steps with the
layout of engine.process.layout, or the drawn file), so the picture is the process itself. A node
is `current` when the case has an open task of that step, `done` when a task of it was completed
(and none is open). Parsed with lxml without DTDs, entities or network; an XML without a diagram
gives no shapes (the page then shows the list of steps alone). At most `MAX_ELEMENTS` shapes and
edges are drawn.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from lxml import etree

from engine.bpmn.xml import NS

MAX_ELEMENTS = 2000
FLOW_NODES = {"startEvent": "event", "endEvent": "event", "intermediateCatchEvent": "event",
              "intermediateThrowEvent": "event", "boundaryEvent": "event",
              "exclusiveGateway": "gateway", "parallelGateway": "gateway",
              "inclusiveGateway": "gateway", "eventBasedGateway": "gateway",
              "userTask": "task", "manualTask": "task", "task": "task", "serviceTask": "task",
              "scriptTask": "task", "sendTask": "task", "receiveTask": "task",
              "businessRuleTask": "task", "callActivity": "task", "subProcess": "task"}
_PARSER = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _bounds(shape: Any) -> tuple[float, float, float, float] | None:
    b = shape.find(_q("dc", "Bounds"))
    if b is None:
        return None
    try:
        return tuple(float(b.get(k, "0")) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]
    except ValueError:
        return None


@lru_cache(maxsize=64)
def layout(xml: str) -> dict[str, Any]:
    """The diagram of a BPMN text: lanes, flow nodes (id, kind, tag, name, bounds), edges
    (waypoints) and the view box. Cached by text (a version's BPMN never changes)."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(**_PARSER))
    except etree.XMLSyntaxError:
        return {"lanes": [], "nodes": [], "edges": [], "box": (0, 0, 0, 0)}
    elements: dict[str, Any] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id"):
            elements[el.get("id")] = el
            if len(elements) > 20 * MAX_ELEMENTS:
                break
    lanes, nodes, edges = [], [], []
    for shape in root.iter(_q("bpmndi", "BPMNShape")):
        if len(lanes) + len(nodes) >= MAX_ELEMENTS:
            break
        el = elements.get(shape.get("bpmnElement", ""))
        bounds = _bounds(shape)
        if el is None or bounds is None:
            continue
        tag = etree.QName(el).localname
        if tag == "lane":
            lanes.append({"id": el.get("id"), "name": el.get("name") or "", "bounds": bounds})
        elif tag in FLOW_NODES:
            nodes.append({"id": el.get("id"), "tag": tag, "kind": FLOW_NODES[tag],
                          "name": el.get("name") or "", "bounds": bounds})
    for edge in root.iter(_q("bpmndi", "BPMNEdge")):
        if len(edges) >= MAX_ELEMENTS:
            break
        points = []
        for wp in edge.findall(_q("di", "waypoint")):
            try:
                points.append((float(wp.get("x", "0")), float(wp.get("y", "0"))))
            except ValueError:
                continue
        if len(points) >= 2:
            edges.append({"id": edge.get("bpmnElement", ""), "points": tuple(points[:50])})
    xs = [v for n in lanes + nodes for v in (n["bounds"][0], n["bounds"][0] + n["bounds"][2])]
    ys = [v for n in lanes + nodes for v in (n["bounds"][1], n["bounds"][1] + n["bounds"][3])]
    xs += [p[0] for e in edges for p in e["points"]]
    ys += [p[1] for e in edges for p in e["points"]]
    box = (min(xs) - 10, min(ys) - 10, max(xs) - min(xs) + 20, max(ys) - min(ys) + 20) if xs else (0, 0, 0, 0)
    return {"lanes": lanes, "nodes": nodes, "edges": edges, "box": box}


def case_diagram(xml: str, open_steps: Iterable[str], done_steps: Iterable[str]) -> dict[str, Any]:
    """The diagram with each node's state: 'current', 'done' or None."""
    drawn = layout(xml)
    current, done = set(open_steps), set(done_steps)
    nodes = [{**n, "state": "current" if n["id"] in current else
              "done" if n["id"] in done else None} for n in drawn["nodes"]]
    return {**drawn, "nodes": nodes}

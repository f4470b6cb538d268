"""Compiling a step definition to BPMN 2.0 XML with a diagram, so an analyst can open it in Camunda
Modeler or bpmn.io.

Shape of a compiled procedure :

- a pool (collaboration participant) with one horizontal lane per role; the lane *name* is the
  role's title (`layout.lane_names`: its id when titles are ambiguous). SpiffWorkflow reads a task's
  role as `task.task_spec.lane`, the lane's name: `engine.bpmn.check.parse` maps titles back to role
  ids when the spec is loaded;
- `start` → one `userTask` per step (id = step id, name = step title, a spiffworkflow property
  `kind` = step kind, read back with `step_kind`) → `end_approved`;
- a step with a `condition` sits between two exclusive gateways: the condition flow runs it, the
  default flow skips it. The condition flow is labelled in Russian from the fields' and choices'
  titles (`engine.process.labels`), never with the expression; a label too long for the diagram is
  shortened and the full text kept in the flow's documentation;
- after the decision step an exclusive gateway sends `outcome == 'approve'` on to the remaining
  steps and `end_approved`, and everything else (the refusal) to `end_refused`. The engine sets
  `outcome` ('approve' / 'refuse') and `ground` in the decision task's data when it completes it.

"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from engine.bpmn.xml import NS, TARGET_NAMESPACE, BpmnError, process_id
from engine.definition.procedure import Procedure
from engine.process.layout import (
    _FIRST_GAP,
    _POOL_HEADER,
    _POOL_X,
    _POOL_Y,
    _label_bounds,
    _Layout,
    _place,
    _plan,
    _waypoints,
    header_label,
)


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
    pool_name = header_label(procedure.name, layout.height)
    w(f'    <bpmn:participant id="Participant_{pid}" name={quoteattr(pool_name)} '
      f'processRef="{pid}" />')
    w('  </bpmn:collaboration>')
    w(f'  <bpmn:process id="{pid}" name={quoteattr(procedure.name)} isExecutable="true">')
    w('    <bpmn:documentation>'
      + escape(f"Процедура {procedure.number}; версия {procedure.version}. Составлено okno из "
               f"{Path(procedure.source).name}: правьте определение, а не этот файл.")
      + '</bpmn:documentation>')
    w('    <bpmn:laneSet id="LaneSet_1">')
    for i, role_id in enumerate(layout.lanes):
        w(f'      <bpmn:lane id="Lane_{role_id}" name={quoteattr(layout.names[i])}>')
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
        long = flow.title if flow.title != flow.name else None
        if flow.condition is None and long is None:
            w(f"    <bpmn:sequenceFlow {attrs} />")
        else:
            w(f"    <bpmn:sequenceFlow {attrs}>")
            if long:
                w(f"      <bpmn:documentation>{escape(long)}</bpmn:documentation>")
        if flow.condition is not None:
            w(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
              f"{escape(flow.condition)}</bpmn:conditionExpression>")
        if flow.condition is not None or long is not None:
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
      f'height="{layout.height}" />')
    w("      </bpmndi:BPMNShape>")
    for i, role_id in enumerate(layout.lanes):
        w(f'      <bpmndi:BPMNShape id="Lane_{role_id}_di" bpmnElement="Lane_{role_id}" '
          f'isHorizontal="true">')
        w(f'        <dc:Bounds x="{_POOL_X + _POOL_HEADER}" y="{layout.lane_top(i)}" '
          f'width="{pool_w - _POOL_HEADER}" height="{layout.lane_h(i)}" />')
        w("      </bpmndi:BPMNShape>")
    for node in layout.nodes:
        extra = ' isMarkerVisible="true"' if node.kind == "gateway" else ""
        w(f'      <bpmndi:BPMNShape id="{node.id}_di" bpmnElement="{node.id}"{extra}>')
        w(f'        <dc:Bounds x="{node.x}" y="{node.y(layout)}" width="{node.w}" '
          f'height="{node.h}" />')
        if node.kind != "task" and node.name:
            # the split gateway's label goes below: its skip route runs above it
            above = node.id == "end_refused" or node.id.startswith("Gateway_outcome_")
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



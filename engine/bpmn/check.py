"""Checking a BPMN document drawn in a modeler and parsing it with SpiffWorkflow.

A definition with `bpmn:` names a file drawn in a modeler, which `check_bpmn` vets when the catalog
loads; `parse` is the same check that also returns the parsed spec.
"""
from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # SpiffWorkflow's own XML dependency
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.bpmn.external import OknoBpmnParser, check_service_tasks
from engine.bpmn.xml import NS, BpmnError
from engine.expressions import ExpressionError, compile_expression, compile_script

# ------------------------------------------------------------------------------------------------
# Checking and parsing BPMN

# Elements whose text SpiffWorkflow hands to the script engine as an expression.
_EXPRESSION_TAGS = ("conditionExpression", "timeDate", "timeDuration", "timeCycle", "condition",
                    "loopCondition", "completionCondition", "loopCardinality", "messagePath",
                    "formalExpression")
_REFUSED_TAGS = {
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


def _check_lanes(root: Any, roles: set[str], titles: Mapping[str, str]) -> None:
    for lane in root.iter(_q("lane")):
        name = (lane.get("name") or "").strip()
        if not name:
            raise BpmnError(f"{_line(lane)}lane {lane.get('id')!r} has no name; name each lane "
                            f"after a role: {', '.join(sorted(roles))}")
        if name not in roles and titles.get(name) not in roles:
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


def parse(xml: str, roles: set[str], version: str = "",
          titles: Mapping[str, str] | None = None) -> ParsedSpec:
    """Check `xml` and parse it with SpiffWorkflow; raise BpmnError for anything unsafe or broken.

    A lane is named by a role id or by one of `titles` (lane name → role id: the role titles the
    compiler names lanes with); a task in a titled lane gets the role id as its `lane`, which is
    how the engine learns who performs it.
    """
    titles = titles or {}
    root = _read_xml(xml)
    with _PARSE_LOCK:
        try:
            VALIDATOR.validate(root)
        except SpiffWorkflowException as exc:
            raise BpmnError(f"not valid BPMN 2.0: {_spiff_message(exc)}") from None
    main = _main_process(root)
    _check_lanes(root, roles, titles)
    _check_expressions(root)
    check_service_tasks(root)  # external tasks (engine.bpmn.external)
    pid = main.get("id")
    with _PARSE_LOCK:
        parser = OknoBpmnParser()  # validated above, under the lock
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
            if task_spec.lane and task_spec.lane.strip() in titles:
                task_spec.lane = titles[task_spec.lane.strip()]
            if not task_spec.lane:
                raise BpmnError(f"{_line(node)}{_describe(node) if node is not None else task_spec.name}"
                                f" is in no lane: put every user task in a role's lane")
            if task_spec.lane not in roles:  # e.g. a lane of an embedded subprocess
                raise BpmnError(f"{_line(node)}task {task_spec.name!r} is in lane "
                                f"{task_spec.lane!r}, which is not a declared role")
    return ParsedSpec(version, pid, spec, subprocess_specs, xml)


def check_bpmn(xml: str, roles: set[str], titles: Mapping[str, str] | None = None) -> None:
    """Raise BpmnError unless `xml` is well-formed, valid BPMN that runs safely with `roles` as lanes.

    Refused: malformed XML or a DOCTYPE; no executable process, or more than one top-level
    process besides call-activity targets; lanes not named after a declared role; user or manual
    tasks outside a lane; service tasks without an external topic; send, receive and DMN tasks;
    conditions, timers and scripts the safe evaluator refuses; anything SpiffWorkflow's XSD validator or parser rejects.
    """
    parse(xml, set(roles), titles=titles)



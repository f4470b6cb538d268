"""Checking a BPMN document drawn in a modeler and parsing it with SpiffWorkflow.

A definition with `bpmn:` names a file drawn in a modeler, which `check_bpmn` vets when the catalog
loads; `parse` is the same check that also returns the parsed spec.
"""
from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # SpiffWorkflow's own XML dependency
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.bpmn.external import SERVICE_TASK, OknoBpmnParser, topic_problem
from engine.bpmn.xml import MAX_BPMN_BYTES, MAX_BPMN_ELEMENTS, NS, BpmnError, BpmnProblem
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


def _describe(node: Any) -> str:
    """`userTask 'Task_2' "Review" (line 14)`: the element as a modeler shows it."""
    tag = etree.QName(node).localname
    ident = node.get("id")
    name = " ".join((node.get("name") or "").split())[:80]
    text = f"{tag} {ident!r}" if ident else tag
    if name:
        text += f' "{name}"'
    line = getattr(node, "sourceline", None)
    return f"{text} (line {line})" if line else text


def _join(names: Iterable[str], limit: int = 20) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "none"


class _Problems:
    """Every problem found so far, each located in the file its element comes from."""

    def __init__(self) -> None:
        self.items: list[BpmnProblem] = []
        self.origin: dict[Any, str] = {}  # a process copied from another file -> that file

    def add(self, node: Any, message: str, *, line: int | None = None, column: int | None = None,
            file: str | None = None) -> None:
        element = None
        if node is not None:
            line = line or node.sourceline
            element = node.get("id")
            if file is None:
                file = next((self.origin[a] for a in (node, *node.iterancestors()) if a in self.origin),
                            None)
        self.items.append(BpmnProblem(line or 1, column or 1, message, element, file))

    def sorted(self) -> list[BpmnProblem]:
        return sorted(self.items, key=lambda p: (p.file or "", p.line, p.column, p.message))


# ------------------------------------------------------------------------------------------------
# Reading the XML, bounded


def _read_xml(xml: str | bytes, out: _Problems, file: str | None = None) -> Any:
    """The root of `xml` parsed with lxml, or None with the problem added: over the size or
    element bound, not well-formed, a DOCTYPE, not BPMN."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(data) > MAX_BPMN_BYTES:
        out.add(None, f"the file is {len(data)} bytes, over the limit of {MAX_BPMN_BYTES}: a drawn "
                      f"procedure is some 50 KB; remove what the process does not need (text "
                      f"annotations, unused pools)", file=file)
        return None
    parser = etree.XMLParser(**_XML_PARSER_ARGS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 1, 1)
        msg = exc.msg or str(exc)
        out.add(None, f"not well-formed XML at line {line}: {msg}", line=line, column=column or 1,
                file=file)
        return None
    if root.getroottree().docinfo.doctype:
        out.add(None, "a DOCTYPE is not allowed in BPMN files", file=file)
        return None
    if root.tag != _q("definitions"):
        out.add(root, f"the root element must be bpmn:definitions ({NS['bpmn']}), not {root.tag}",
                file=file)
        return None
    for count, _ in enumerate(root.iter(), 1):
        if count > MAX_BPMN_ELEMENTS:
            out.add(root, f"the file has more than {MAX_BPMN_ELEMENTS} elements: a drawn procedure "
                          f"has a few hundred; remove what the process does not need (text "
                          f"annotations, unused pools)", file=file)
            return None
    return root


_XSD_ERROR = re.compile(r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: "
                        r"(?P<text>.*)$", re.DOTALL)
_XSD_EXPECTED = re.compile(r"\s*Expected is (?:one of )?\(\s*(?P<names>[^)]*)\)\.?")


def _short(text: str) -> str:
    for prefix, uri in NS.items():
        text = text.replace("{" + uri + "}", prefix + ":")
    return re.sub(r"\{[^}]*\}", "", text)  # other namespaces: the local name is enough


def _xsd_message(raw: str) -> str:
    """A libxml2 schema error as an edit: `element bpmn:foo: this element is not allowed here`."""
    match = _XSD_ERROR.match(_short(raw.strip()))
    if not match:
        return "not valid BPMN 2.0: " + _short(raw.strip()).rstrip(".")
    element, attribute, text = match["element"], match["attribute"], match["text"].strip()
    expected = _XSD_EXPECTED.search(text)
    allowed = ""
    if expected:
        names = [n.strip() for n in expected["names"].replace("##other", "").split(",") if n.strip()]
        allowed = f" (allowed here: {', '.join(names)})" if names else ""
        text = text[:expected.start()].strip()
    if text.startswith("This element is not expected"):
        text = "this element is not allowed here" + allowed
    elif m := re.match(r"The attribute '([^']+)' is not allowed", text):
        text = f"remove the attribute {m[1]!r}: it is not allowed here"
    elif m := re.match(r"The attribute '([^']+)' is required but missing", text):
        text = f"add the attribute {m[1]!r}: it is required"
    elif m := re.match(r"'([^']*)' is not a valid value of the atomic type 'xs:(ID|IDREF|QName)'", text):
        text = f"{m[1]!r} is not a valid id: an id starts with a letter or '_' and has no spaces"
    elif m := re.match(r"'([^']*)' is not a valid value of the atomic type 'xs:(\w+)'", text):
        text = f"{m[1]!r} is not a valid {m[2]} value"
    elif text.startswith("Missing child element"):
        text = "a required child element is missing" + allowed
    else:
        text = text[:1].lower() + text[1:].rstrip(".")
    where = f"element {element}" + (f", attribute {attribute!r}" if attribute else "")
    return f"{where}: {text}"


def _check_schema(root: Any, out: _Problems, file: str | None = None) -> None:
    """Every BPMN 2.0 schema error of the document, each as `element X (line N): …`."""
    with _PARSE_LOCK:
        VALIDATOR.preprocess(root)
        schema = VALIDATOR.validator
        if schema.validate(root):
            return
        errors = [(e.line, e.column, e.message) for e in schema.error_log]
    for line, column, message in errors[:_MAX_SCHEMA_ERRORS]:
        text = _xsd_message(message)
        if text.startswith("element "):
            head, _, rest = text.partition(": ")
            text = f"{head} (line {line}): {rest}"
        out.add(None, text, line=line, column=column or 1, file=file)
    if len(errors) > _MAX_SCHEMA_ERRORS:
        out.add(None, f"{len(errors) - _MAX_SCHEMA_ERRORS} more BPMN 2.0 schema errors not listed",
                line=errors[_MAX_SCHEMA_ERRORS][0], file=file)


_MAX_SCHEMA_ERRORS = 200


# ------------------------------------------------------------------------------------------------
# Call activities: processes of this file and of the catalog's other BPMN files

# Root elements a copied process may refer to (messages it catches, errors it throws, …).
_SHARED_ROOT_TAGS = {_q(t) for t in ("message", "signal", "error", "escalation", "itemDefinition",
                                     "dataStore", "correlationProperty", "interface")}


class _Library:
    """The processes of the catalog's other BPMN files, read only when a call needs one."""

    def __init__(self, others: Callable[[], Iterable[tuple[str, bytes]]] | None) -> None:
        self._others = others
        self._index: dict[str, tuple[str, Any]] | None = None
        self._checked: set[str] = set()

    def index(self) -> dict[str, tuple[str, Any]]:
        if self._index is None:
            self._index = {}
            for name, raw in (self._others() if self._others else ()):
                quiet = _Problems()
                root = _read_xml(raw, quiet, name)
                if root is None:
                    continue
                for process in root.findall(_q("process")):
                    self._index.setdefault(process.get("id"), (name, process))
        return self._index

    def checked(self, name: str) -> bool:
        """True the first time a file is used (its schema errors are then reported once)."""
        first = name not in self._checked
        self._checked.add(name)
        return first


def _copy_called(root: Any, out: _Problems, library: _Library) -> bool:
    """Copy into `root` every process that a call activity names and another file holds.

    The stored text then holds every process a case runs: the procedure's version changes when
    a called file changes, and a case keeps running the processes it started with."""
    local = {p.get("id") for p in root.findall(_q("process"))}
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    diagram = root.find(_q("BPMNDiagram", "bpmndi"))
    pending = [c for p in root.findall(_q("process")) if p.get("isExecutable") != "false"
               for c in p.iter(_q("callActivity"))]
    copied = False
    while pending:
        call = pending.pop()
        target = call.get("calledElement")
        if not target or target in local:
            continue
        found = library.index().get(target)
        if found is None:
            continue  # reported where the calls are followed, with the processes that exist
        name, process = found
        if library.checked(name):
            _check_schema(process.getroottree().getroot(), out, name)
        clash = sorted(el.get("id") for el in process.iter()
                       if isinstance(el.tag, str) and el.get("id") in ids)
        if clash:
            out.add(call, f"{_describe(call)} calls process {target!r} of {name}, whose ids are "
                          f"also used in this file: {_join(clash)}; rename them in one of the files")
            local.add(target)
            continue
        copy = deepcopy(process)
        _insert(root, diagram, copy)
        out.origin[copy] = name
        local.add(target)
        ids.update(el.get("id") for el in copy.iter() if isinstance(el.tag, str) and el.get("id"))
        for shared in process.getroottree().getroot():
            if shared.tag in _SHARED_ROOT_TAGS and shared.get("id") not in ids:
                _insert(root, diagram, deepcopy(shared))
                ids.add(shared.get("id"))
        pending.extend(copy.iter(_q("callActivity")))
        copied = True
    return copied


def _insert(root: Any, diagram: Any, element: Any) -> None:
    if diagram is not None:
        diagram.addprevious(element)
    else:
        root.append(element)


def _main_process(root: Any, out: _Problems, library: _Library) -> tuple[Any, list[Any]]:
    """The procedure's process and every process it reaches by call activities.

    A collaboration may draw other participants (the citizen's pool, as a black box or with
    tasks): processes not marked executable are not run and not checked."""
    processes = {p.get("id"): p for p in root.findall(_q("process"))}
    calls: dict[str, list[tuple[Any, str]]] = {}
    for pid, process in processes.items():
        calls[pid] = [(c, (c.get("calledElement") or "").strip()) for c in process.iter(_q("callActivity"))]
    called = {t for pairs in calls.values() for _, t in pairs if t in processes and t}
    top = [p for pid, p in processes.items() if pid not in called]
    executable = [p for p in top if p.get("isExecutable") == "true"]
    if not processes:
        out.add(root, "no process: a BPMN file must hold the procedure's executable process")
        return None, []
    if len(executable) > 1:
        out.add(executable[1], f"more than one executable top-level process "
                               f"({', '.join(_describe(p) for p in executable)}): okno runs one "
                               f"process per procedure; untick 'Executable' on the pools that are "
                               f"not the procedure (e.g. the citizen's), or call them from the "
                               f"procedure with a call activity")
    if executable:
        main = executable[0]
    elif not top:
        out.add(root, "every process is called by a call activity: the calls form a cycle")
        return None, []
    elif len(top) == 1:
        main = top[0]
        out.add(main, f'{_describe(main)}: set isExecutable="true" (in Camunda Modeler: the '
                      f"process's 'Executable' checkbox); no executable process otherwise")
    else:
        out.add(root, f'no executable process among {", ".join(_describe(p) for p in top)}: set '
                      f'isExecutable="true" on the procedure\'s process (in Camunda Modeler: the '
                      f"'Executable' checkbox of its pool)")
        return None, []
    # Depth-first from the main process: a cycle of calls would recurse for ever at run time.
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(pid: str, path: list[str]) -> None:
        state[pid] = 1
        order.append(pid)
        for call, target in calls[pid]:
            if not target:
                out.add(call, f"{_describe(call)} has no calledElement: set its 'Called element' to "
                              f"the id of the process it runs")
            elif target not in processes:
                known = set(processes) | set(library.index())
                out.add(call, f"{_describe(call)} calls process {target!r}, which is not in this "
                              f"file nor in another BPMN file of the catalog folder; processes "
                              f"that exist: {_join(known)}")
            elif state.get(target) == 1:
                cycle = " -> ".join(path[path.index(target):] + [target])
                out.add(call, f"call activities form a cycle: {cycle}")
            elif target not in state:
                if processes[target].get("isExecutable") == "false":
                    out.add(processes[target], f"{_describe(processes[target])} is called by "
                                               f"{_describe(call)}: set isExecutable=\"true\" "
                                               f"(in Camunda Modeler: the 'Executable' checkbox)")
                visit(target, path + [target])
        state[pid] = 2

    visit(main.get("id"), [main.get("id")])
    for pid, process in processes.items():
        if pid not in state and pid in called and process.get("isExecutable") == "true":
            out.add(process, f"process {pid!r} is called only from itself or from processes the "
                             f"main process {main.get('id')!r} never reaches")
    return main, [processes[pid] for pid in order]


# ------------------------------------------------------------------------------------------------
# What each executed process must satisfy


def _check_lanes(process: Any, roles: set[str], titles: Mapping[str, str], out: _Problems) -> dict[str, str]:
    """Every lane is named after a role; returns flow node id -> lane name."""
    lanes: dict[str, str] = {}
    for lane in process.iter(_q("lane")):
        name = (lane.get("name") or "").strip()
        if not name:
            out.add(lane, f"{_describe(lane)} has no name: name it after a role: {_join(roles)}")
        elif name not in roles and titles.get(name) not in roles:
            out.add(lane, f"lane {name!r} is not a declared role (line {lane.sourceline}): name it "
                          f"after one of the declared roles: {', '.join(sorted(roles)) or 'none'}")
        if lane.find(_q("childLaneSet")) is not None:
            out.add(lane, f"lane {name or lane.get('id')!r} (line {lane.sourceline}) has child "
                          f"lanes; use one level of lanes")
        for ref in lane.findall(_q("flowNodeRef")):
            lanes.setdefault((ref.text or "").strip(), name)
    return lanes


def _check_performers(process: Any, lanes: Mapping[str, str], roles: set[str],
                      default_role: str | None, out: _Problems) -> None:
    """Every user or manual task is in a lane (or, in an embedded subprocess, in one that is),
    unless the definition names a default role for tasks in no lane."""
    if default_role:
        return
    for task in process.iter(_q("userTask"), _q("manualTask")):
        chain = [task.get("id")]
        for ancestor in task.iterancestors():
            if ancestor is process:
                break
            chain.append(ancestor.get("id"))
        if any(i in lanes for i in chain):
            continue
        out.add(task, f"{_describe(task)} is in no lane: put it in a lane named after a role: "
                      f"{_join(roles)}, or name a default role for tasks in no lane in the "
                      f"definition (bpmn: {{file: ..., default_role: {sorted(roles)[0] if roles else 'clerk'}}})")


def _owner(node: Any) -> Any:
    """The flow element an expression or script belongs to (a sequence flow, a task, an event)."""
    for ancestor in node.iterancestors():
        if ancestor.get("id"):
            return ancestor
    return node


def _check_expressions(process: Any, out: _Problems) -> None:
    for tag, why in _REFUSED_TAGS.items():
        for node in process.iter(_q(tag)):
            out.add(node, f"{_describe(node)}: {why}")
    for tag in _EXPRESSION_TAGS:
        for node in process.iter(_q(tag)):
            text = (node.text or "").strip()
            owner = _describe(_owner(node))
            if not text:
                if tag in ("conditionExpression", "timeDate", "timeDuration", "timeCycle"):
                    out.add(node, f"{owner}: empty {tag}")
                continue
            try:
                expression = compile_expression(text)
            except ExpressionError as exc:
                out.add(node, f"{owner}: {tag} refused: {exc}")
                continue
            if tag in _TIMER_TAGS:
                problem = _timer_problem(tag, text, expression)
                if problem:
                    out.add(node, f"{owner}: {problem}")
    scripts = [(n, "script") for n in process.iter(_q("script"))]
    scripts += [(n, etree.QName(n).localname)
                for tag in ("preScript", "postScript") for n in process.iter(_q(tag, "spiffworkflow"))]
    for node, what in scripts:
        text = node.text or ""
        if not text.strip():
            continue
        try:
            compile_script(text)
        except ExpressionError as exc:
            lines = text.split("\n")
            at = exc.line if exc.line and 0 < exc.line <= len(lines) else None
            shown = lines[at - 1].strip()[:80] if at else ""
            quote = f"`{shown}` " if shown else ""
            out.add(node, f"{_describe(_owner(node))}: {what} refused: {quote}is outside the safe "
                          f"script language: {exc.reason}",
                    line=node.sourceline + at - 1 if at and node.sourceline else None)
    for task in process.iter(_q("scriptTask")):
        fmt = (task.get("scriptFormat") or "python").lower()
        if fmt not in ("python", "text/x-python", "okno"):
            out.add(task, f"{_describe(task)}: script format {fmt!r} is not supported: set the "
                          f"script format to python (scripts run in okno's safe language)")
    for node in process.iter(SERVICE_TASK):
        problem = topic_problem(node)
        if problem:
            out.add(node, f"{_describe(node)} {problem}")


_TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")
_ISO_NAME = re.compile(r"^(R\d*|P(\d|T\d)|\d{4}-)", re.IGNORECASE)


def _timer_problem(tag: str, text: str, expression: Any) -> str | None:
    """A constant timer text must be a quoted ISO 8601 value SpiffWorkflow can read."""
    if expression.names:
        if len(expression.names) == 1 and _ISO_NAME.match(text.strip()):
            return (f"{tag} {text.strip()!r} must be quoted: \"{text.strip()}\" (timer texts are "
                    f"expressions)")
        return None  # computed from task data: checked when the timer starts
    try:
        value = expression.evaluate({})
    except ExpressionError as exc:
        return f"{tag} refused: {exc}"
    if not isinstance(value, str):
        return f"{tag} must give an ISO 8601 text, not {value!r}"
    definition = _spiff_timer.TimerEventDefinition
    try:
        if tag == "timeDuration":
            definition.parse_iso_duration(value)
        elif tag == "timeDate":
            definition.get_datetime(value)
        else:
            definition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception, ValueError, …
        kind = "duration" if tag == "timeDuration" else "date" if tag == "timeDate" else "cycle"
        return f"{tag} {value!r} is not an ISO 8601 {kind}"
    return None


# ------------------------------------------------------------------------------------------------
# The check, then SpiffWorkflow's parser


@dataclass
class _Vetted:
    problems: _Problems
    root: Any = None
    process_id: str = ""
    xml: str = ""


def _vet(xml: str, roles: set[str], titles: Mapping[str, str], default_role: str | None,
         others: Callable[[], Iterable[tuple[str, bytes]]] | None) -> _Vetted:
    out = _Problems()
    root = _read_xml(xml, out)
    if root is None:
        return _Vetted(out)
    _check_schema(root, out)
    library = _Library(others)
    copied = _copy_called(root, out, library)
    main, executed = _main_process(root, out, library)
    if main is None:
        return _Vetted(out)
    for process in executed:
        lanes = _check_lanes(process, roles, titles, out)
        _check_performers(process, lanes, roles, default_role, out)
        _check_expressions(process, out)
    text = etree.tostring(root, encoding="unicode") if copied else xml
    return _Vetted(out, root, main.get("id"), text)


def _spiff_problem(exc: Exception, root: Any) -> BpmnProblem:
    """SpiffWorkflow's message located at the element it names, namespaces shortened."""
    text = _short((str(exc).strip() or "the process cannot be read").rstrip("."))
    ident, line = getattr(exc, "id", "") or "", getattr(exc, "line_number", "") or 0
    found = root.xpath("//*[@id=$id]", id=ident) if ident else []
    if found:
        line = line or found[0].sourceline
        text = f"{_describe(found[0])}: {text}"
    return BpmnProblem(int(line or 1), 1, text, ident or None)


def parse(xml: str, roles: set[str], version: str = "", titles: Mapping[str, str] | None = None,
          default_role: str | None = None,
          others: Callable[[], Iterable[tuple[str, bytes]]] | None = None) -> ParsedSpec:
    """Check `xml` and parse it with SpiffWorkflow; raise BpmnError listing every problem.

    A lane is named by a role id or by one of `titles` (lane name → role id: the role titles the
    compiler names lanes with); a task in a titled lane gets the role id as its `lane`, which is
    how the engine learns who performs it; a task in no lane gets `default_role`. `others` gives
    the catalog's other BPMN files (name, bytes) where call activities may find their processes:
    those processes are copied into the returned spec's `xml`.
    """
    titles = titles or {}
    vetted = _vet(xml, roles, titles, default_role, others)
    if vetted.problems.items:
        raise BpmnError(problems=vetted.problems.sorted())
    root, pid = vetted.root, vetted.process_id
    with _PARSE_LOCK:
        parser = OknoBpmnParser()  # validated above, under the lock
        try:
            parser.add_bpmn_xml(root)
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
        except SpiffWorkflowException as exc:
            raise BpmnError(problems=[_spiff_problem(exc, root)]) from None
        except (etree.LxmlError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BpmnError(problems=[BpmnProblem(1, 1, f"the process cannot be read: {exc}")]) from None
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    out = _Problems()
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if not getattr(task_spec, "manual", False):
                continue
            node = by_id.get(task_spec.name)
            what = _describe(node) if node is not None else repr(task_spec.name)
            if task_spec.lane and task_spec.lane.strip() in titles:
                task_spec.lane = titles[task_spec.lane.strip()]
            if not task_spec.lane and default_role:
                task_spec.lane = default_role
            if not task_spec.lane:
                out.add(node, f"{what} is in no lane: put every user task in a role's lane, or "
                              f"name a default role for tasks in no lane in the definition")
            elif task_spec.lane not in roles:  # e.g. a lane of an embedded subprocess
                out.add(node, f"{what} is in lane {task_spec.lane!r}, which is not a declared role")
    if out.items:
        raise BpmnError(problems=out.sorted())
    return ParsedSpec(version, pid, spec, subprocess_specs, vetted.xml)


def check_bpmn(xml: str, roles: set[str], titles: Mapping[str, str] | None = None,
               default_role: str | None = None,
               others: Callable[[], Iterable[tuple[str, bytes]]] | None = None) -> str:
    """The text to store for `xml` (with the processes its call activities take from `others`);
    raise BpmnError listing EVERY problem, each with its line, column and element.

    Refused: a file over MAX_BPMN_BYTES or MAX_BPMN_ELEMENTS (before SpiffWorkflow's parser);
    malformed XML or a DOCTYPE; BPMN 2.0 schema errors (all of them); no executable process, or
    more than one executable top-level process; lanes not named after a declared role; user or
    manual tasks outside a lane without a default role; service tasks without an external topic;
    send, receive and DMN tasks; conditions, timers and scripts the safe evaluator refuses; call
    activities whose process is nowhere; anything SpiffWorkflow's parser rejects.
    """
    return parse(xml, set(roles), titles=titles, default_role=default_role, others=others).xml

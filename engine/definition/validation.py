"""Validating procedure definitions read from YAML and turning them into Procedures.

Validation has two layers. The JSON Schema (`schemas/procedure.schema.json`) checks the shape;
the semantic checks here cover what a schema cannot: unique numbers and ids, references to roles
and fields that exist, conditions that the safe evaluator accepts, a BPMN file that parses.
Every problem carries the file, line and column it comes from.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from engine.bpmn.xml import MAX_BPMN_BYTES, MAX_BPMN_ELEMENTS  # noqa: F401 - re-exported
from engine.definition.build import bpmn_file, build_procedure, number_key
from engine.definition.catalog_files import CatalogFileError, read_catalog_file
from engine.definition.date_bound import bound_problem, resolve
from engine.definition.field_pattern import PatternError, compile_pattern
from engine.definition.law import general_grounds
from engine.definition.procedure import (
    BUILTIN_NAMES,
    NOTICE_PLACEHOLDERS,
    RESERVED_OUTCOMES,
    Procedure,
)
from engine.definition.yaml_source import MAX_FILE_BYTES, YamlError, parse_yaml
from engine.expressions import ExpressionError, compile_expression

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "procedure.schema.json"
# Ids the BPMN compiler gives its own events, and data keys the engine or serializer owns.
RESERVED_STEP_IDS = frozenset({"start", "end_approved", "end_refused"})
RESERVED_FIELD_IDS = frozenset({"outcome", "ground", "typename"})
# A notice text's placeholders (the same syntax engine.notices.drafts renders).
_PLACEHOLDER = re.compile(r"\{([^{}]{0,80})\}")
_PLACEHOLDER_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a definition, where an editor can jump to it."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class CatalogError(ValueError):
    """Raised by `load_catalog` when any definition is wrong; holds every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


_END = re.compile(r"(?<!\\)\$")


@cache
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A schema pattern with ECMA-262's meaning of `$` (the end of the text). Python's `$` also
    matches before a final newline, so "clerk\\n" would pass `^[a-z]+$` (editors and jsonschema-rs
    refuse it). The schema's patterns have no `$` inside a character class."""
    return re.compile(_END.sub(r"\\Z", pattern))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = _schema()
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    cls = jsonschema.validators.extend(base, {"pattern": _pattern})
    return cls(schema, format_checker=base.FORMAT_CHECKER)


@cache
def _fast_validator() -> Any | None:
    """jsonschema-rs where installed: it passes a valid definition some 50 times faster.

    Only its "valid" is trusted; anything else (invalid, or data it cannot take, such as integers
    beyond 64 bits) goes to `jsonschema`, whose errors say what and where.
    """
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(_schema())


def _schema_errors(data: Any) -> Iterator[jsonschema.ValidationError]:
    fast = _fast_validator()
    if fast is not None and _fast_is_valid(fast, data):
        return iter(())
    return _validator().iter_errors(data)


def _fast_is_valid(fast: Any, data: Any) -> bool:
    try:
        return fast.is_valid(data)
    except Exception:  # noqa: BLE001 - data it cannot take: the reference validator decides
        return False


def definition_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, with folders expanded to their *.yaml files, in a stable order."""
    return [file for file, _ in _definition_files(paths)]


def _definition_files(paths: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """(file, its catalog folder): a folder named is the catalog of the files under it, a file
    named lies in the catalog of its own folder. Every *.yaml entry that is not a folder is
    listed, links, FIFOs and devices included, so that reading it can say why it is refused."""
    files: list[tuple[Path, Path]] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend((p, path) for p in sorted(path.rglob("*"))
                         if p.suffix in (".yaml", ".yml") and not p.name.startswith("_")
                         and not p.is_dir())
        else:
            files.append((path, path.parent))
    return files


def validate_paths(paths: Iterable[str | Path]) -> tuple[list[Procedure], list[Problem]]:
    """Validate every definition under `paths`; return the good Procedures and all problems."""
    procedures: list[Procedure] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file, catalog in _definition_files(paths):
        try:
            raw = read_catalog_file(file, catalog, MAX_FILE_BYTES)
        except CatalogFileError as exc:
            message = "no such file or folder" if exc.missing else f"the file {exc}"
            problems.append(Problem(str(file), 1, 1, message))
            continue
        procedure, found = check_definition(raw, str(file), base_dir=file.parent)
        problems.extend(found)
        if procedure is None:
            continue
        if procedure.number in seen:
            line, column = parse_yaml(raw).position(("number",))  # parsed again only for the report
            problems.append(Problem(str(file), line, column,
                                    f"number {procedure.number} is already used by {seen[procedure.number]}"))
            continue
        seen[procedure.number] = str(file)
        procedures.append(procedure)
    return procedures, sorted(problems)


def load_catalog(path: str | Path = ROOT / "procedures") -> dict[str, Procedure]:
    """Load and validate a catalog folder: number -> Procedure. Raises CatalogError if any is wrong."""
    procedures, problems = validate_paths([path])
    if problems:
        raise CatalogError(problems)
    return {p.number: p for p in sorted(procedures, key=lambda p: number_key(p.number))}


def load_definition(raw: bytes, source: str, base_dir: Path | None = None) -> Procedure:
    """Build one Procedure from YAML bytes, or raise CatalogError."""
    procedure, problems = check_definition(raw, source, base_dir=base_dir, check_file_name=False)
    if problems or procedure is None:
        raise CatalogError(problems)
    return procedure


def check_definition(
    raw: bytes, source: str, base_dir: Path | None = None, check_file_name: bool = True
) -> tuple[Procedure | None, list[Problem]]:
    """Validate one definition: the Procedure if it is right, and every problem found.

    A BPMN file it names must be a regular file inside `base_dir`, the definition's folder."""
    try:
        doc = parse_yaml(raw)
    except YamlError as exc:
        return None, [Problem(source, exc.line, exc.column, exc.message)]
    problems = sorted(
        Problem(source, *doc.position(_schema_error_path(err)), _schema_message(err))
        for err in _schema_errors(doc.data)
    )
    if problems:
        return None, problems
    # Terms next: the other checks compare terms, so they run only on terms that read.
    problems = sorted(Problem(source, *doc.position(path), message)
                      for path, message in _term_problems(doc.data))
    if problems:
        return None, problems
    bpmn_xml = None
    for path, message in _semantic_problems(doc.data):
        problems.append(Problem(source, *doc.position(path), message))
    if check_file_name and Path(source).stem != doc.data["number"]:
        problems.append(Problem(source, *doc.position(("number",)),
                                f"file name must be the number: {doc.data['number']}.yaml"))
    if "bpmn" in doc.data:
        bpmn_xml, found = _read_bpmn(doc.data, base_dir, source, doc.position(("bpmn",)))
        problems.extend(found)
    if problems:
        return None, problems
    return build_procedure(doc.data, source, bpmn_xml), []


def _schema_error_path(err: jsonschema.ValidationError) -> tuple:
    """Where the error is: the object itself, or the key at fault when there is one."""
    path = tuple(err.absolute_path)
    if not isinstance(err.instance, dict):
        return path
    if err.validator == "additionalProperties":
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        return path + tuple(extra[:1])
    if err.validator == "not" and _forbids_keys(err):
        return path + tuple(err.validator_value["required"][:1])  # a key that must not be there
    if err.validator == "oneOf" and not path and {"steps", "bpmn"} <= set(err.instance):
        return ("bpmn",)
    return path


def _forbids_keys(err: jsonschema.ValidationError) -> bool:
    """A `not: {required: [...]}` rule: keys that must be absent."""
    return isinstance(err.validator_value, dict) and list(err.validator_value) == ["required"] \
        and isinstance(err.instance, dict)


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    if err.validator in ("oneOf", "anyOf") and err.context:
        # Say which alternative came closest instead of "is not valid under any of the schemas".
        best = jsonschema.exceptions.best_match(err.context)
        inner = "/".join(str(p) for p in best.absolute_path)
        where = inner or where
        if err.validator == "oneOf" and not where and {"steps", "bpmn"} & set(err.instance):
            return "give either 'steps' or 'bpmn', not both"
        return f"{where}: {best.message}" if where else best.message
    if err.validator == "not" and _forbids_keys(err):
        # Instead of "{...the whole object...} should not be valid under {'required': [...]}".
        keys = ", ".join(repr(k) for k in err.validator_value["required"])
        message = f"{keys} is not allowed here"
        if isinstance(err.instance.get("type"), str):
            message += f" (type is {err.instance['type']!r})"
        return f"{where}: {message}" if where else message
    return f"{where}: {err.message}" if where else err.message


MAX_CATALOG_BPMN_FILES = 200  # other BPMN files a call activity may take a process from
_BPMN_GLOBS = ("*.bpmn", "*/*.bpmn", "*/*/*.bpmn")  # at most three folders deep


def _read_bpmn(data: dict[str, Any], base_dir: Path | None, source: str,
               at: tuple[int, int]) -> tuple[str | None, list[Problem]]:
    """The BPMN text to store for the definition, and its problems: those of reading the file
    at the YAML's `bpmn:` key (`at`), those of its content in the BPMN file itself, each with
    line, column and element."""
    name = bpmn_file(data)
    if base_dir is None:
        return None, [Problem(source, *at, "a BPMN file can only be checked for a definition "
                                           "read from a folder")]
    path = base_dir / name
    try:
        raw = read_catalog_file(path, base_dir, MAX_BPMN_BYTES, "the definition's folder")
    except CatalogFileError as exc:
        return None, [Problem(source, *at, f"BPMN file {name} {exc}")]
    # SpiffWorkflow and lxml load only when a definition names a BPMN file (validation starts fast).
    from engine.bpmn.check import check_bpmn
    from engine.bpmn.xml import BpmnError

    roles = {r["id"] for r in data["roles"]}
    default_role = data["bpmn"].get("default_role") if isinstance(data["bpmn"], dict) else None
    if default_role is not None and default_role not in roles:
        return None, []  # reported at bpmn/default_role; checked again once it names a role
    try:
        xml = raw.decode("utf-8")
        return check_bpmn(xml, roles, default_role=default_role,
                          others=lambda: _other_bpmn_files(base_dir, path)), []
    except UnicodeDecodeError as exc:
        return None, [Problem(source, *at, f"cannot read BPMN file {name}: {exc}")]
    except BpmnError as exc:
        return None, [Problem(str(base_dir / p.file) if p.file else str(path), p.line, p.column,
                              p.message) for p in exc.problems]


def _other_bpmn_files(base_dir: Path, own: Path) -> list[tuple[str, bytes]]:
    """The catalog folder's other BPMN files (name relative to it, bytes), bounded in depth and
    number; a file that cannot be read is left out (a call to its processes is then reported)."""
    found: list[tuple[str, bytes]] = []
    try:
        paths = sorted({p for pattern in _BPMN_GLOBS
                        for p in itertools.islice(base_dir.glob(pattern), MAX_CATALOG_BPMN_FILES + 1)})
    except OSError:
        return found
    for path in paths[:MAX_CATALOG_BPMN_FILES]:
        if path == own:
            continue
        try:
            found.append((path.relative_to(base_dir).as_posix(),
                          read_catalog_file(path, base_dir, MAX_BPMN_BYTES)))
        except CatalogFileError:
            continue
    return found


def _citation_problems(citation: dict[str, Any] | None) -> Iterator[tuple[tuple, str]]:
    """The source block's dates are real days, and the edition is not later than the check."""
    if citation is None:
        return
    days = {}
    for key in ("edition", "checked"):
        if key in citation:
            try:
                days[key] = date.fromisoformat(citation[key])
            except ValueError:
                yield ("source", key), f"{citation[key]!r} is not a day of the calendar (YYYY-MM-DD)"
    if len(days) == 2 and days["edition"] > days["checked"]:
        yield ("source", "edition"), "the edition is later than the day the source was checked"


def _semantic_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """What the schema cannot say: consistency across fields of one definition."""
    if data.get("type", "procedure") == "procedure":
        first = data["number"].split(".")[0]
        if str(data["chapter"]) != first:
            yield ("chapter",), f"chapter {data['chapter']} does not match number {data['number']}"
    else:
        yield from _appeal_problems(data)
    yield from _notice_problems(data)
    yield from _citation_problems(data.get("source"))
    yield from _option_problems(data)
    bodies = data.get("authorities", [])
    if bodies and all(a.get("role") == "receives" for a in bodies):
        yield ("authorities",), "every body only receives the application: name the one that decides"

    yield from _unique(data.get("roles", []), ("roles",), "role")
    bpmn = data.get("bpmn")
    if isinstance(bpmn, dict) and "default_role" in bpmn:
        roles = sorted(r["id"] for r in data.get("roles", []))
        if bpmn["default_role"] not in roles:
            yield (("bpmn", "default_role"), f"bpmn/default_role: {bpmn['default_role']!r} is not a "
                   f"declared role; declared roles: {', '.join(roles)}")
    all_docs = [("documents", d) for d in data.get("documents", [])] + [
        ("requested_documents", d) for d in data.get("requested_documents", [])]
    seen_docs: set[str] = set()
    for i, (key, doc) in enumerate(all_docs):
        index = i if key == "documents" else i - len(data.get("documents", []))
        if doc["id"] in seen_docs:
            yield (key, index, "id"), f"document id {doc['id']!r} is used twice"
        seen_docs.add(doc["id"])
    for key in ("refusal_grounds",):
        yield from _unique(data.get(key, []), (key,), "ground")
    if "suspension" in data:
        yield from _unique(data["suspension"].get("grounds", []), ("suspension", "grounds"), "ground")
        if data["suspension"]["allowed"] is False and data["suspension"].get("grounds"):
            yield ("suspension", "grounds"), "grounds given but suspension is not allowed"
    general = {g.id for g in general_grounds()["refusal_grounds"]}
    for i, ground in enumerate(data.get("refusal_grounds", [])):
        if ground["id"] in general:
            yield ("refusal_grounds", i, "id"), f"ground {ground['id']!r} is a general ground of Law No. 433-З already"
    fee = data.get("fee", {})
    yield from _unique(fee.get("categories", []), ("fee", "categories"), "category")
    yield from _unique(fee.get("exemptions", []), ("fee", "exemptions"), "exemption")
    yield from _fee_table_problems(data)

    term = data["term"]
    # Without requested_documents the clerk records free requests (Case.record_information).
    if ("when_documents_requested" in term
            and _term_days(term["when_documents_requested"]) < _term_days(term["max"])):
        yield (("term", "when_documents_requested"),
               "the term when documents are requested is shorter than the maximum term")

    roles = {r["id"] for r in data.get("roles", [])}
    known_names = set(BUILTIN_NAMES)
    steps = data.get("steps", [])
    yield from _unique(steps, ("steps",), "step")
    kinds = [s["kind"] for s in steps]
    if steps and kinds.count("decision") != 1:
        yield ("steps",), f"steps must have exactly one decision step, found {kinds.count('decision')}"
    if "request_documents" in kinds and not data.get("requested_documents"):
        i = kinds.index("request_documents")
        yield ("steps", i, "kind"), "a request_documents step, but the procedure lists no requested_documents"
    if steps and "intake" in kinds and kinds.index("intake") != 0:
        yield ("steps", kinds.index("intake"), "kind"), "the intake step must come first"
    if "decision" in kinds and "issue" in kinds and kinds.index("issue") < kinds.index("decision"):
        yield ("steps", kinds.index("issue"), "kind"), "the issue step must come after the decision"
    all_fields = {f["id"] for s in steps for f in s.get("fields", [])}
    seen_fields: dict[str, str] = {}
    for i, step in enumerate(steps):
        if step["id"] in RESERVED_STEP_IDS:
            yield ("steps", i, "id"), f"step id {step['id']!r} is reserved for the compiled BPMN"
        if step["kind"] == "decision" and "condition" in step:
            yield ("steps", i, "condition"), "the decision step cannot be conditional: every case is decided"
        for j, fld in enumerate(step.get("fields", [])):
            if fld["id"] in seen_fields and seen_fields[fld["id"]] != step["id"]:
                yield (("steps", i, "fields", j, "id"),
                       f"field id {fld['id']!r} is already a field of step {seen_fields[fld['id']]!r}")
            seen_fields.setdefault(fld["id"], step["id"])
        if step["role"] not in roles:
            yield ("steps", i, "role"), f"role {step['role']!r} is not declared in roles"
        yield from _unique(step.get("fields", []), ("steps", i, "fields"), "field")
        for j, fld in enumerate(step.get("fields", [])):
            yield from _unique(fld.get("choices", []), ("steps", i, "fields", j, "choices"), "choice")
            if fld["id"] in BUILTIN_NAMES or fld["id"] in RESERVED_FIELD_IDS:
                yield ("steps", i, "fields", j, "id"), f"field id {fld['id']!r} is reserved"
            if fld.get("pattern"):
                yield from _regex_problem(fld["pattern"], ("steps", i, "fields", j, "pattern"))
            yield from _bound_problems(fld, ("steps", i, "fields", j))
        if "condition" in step:
            yield from _condition_problems(step["condition"], known_names, ("steps", i, "condition"),
                                           "a field of an earlier step")
        known_names |= {f["id"] for f in step.get("fields", [])}
    yield from _date_field_problems(data, steps)
    # In a BPMN definition the forms are not known here, so any name may be used.
    known_names = set(BUILTIN_NAMES) | all_fields if steps else None
    for key in ("documents", "requested_documents"):
        for i, doc in enumerate(data.get(key, [])):
            if "condition" in doc:
                yield from _condition_problems(doc["condition"], known_names, (key, i, "condition"),
                                               "a field of any step")


def _date_field_problems(data: dict[str, Any], steps: list[dict]) -> Iterator[tuple[tuple, str]]:
    """`validity.until.field` and `term.counted_from.field` name a date field of the forms (a
    drawn BPMN definition's forms are not known here: not checked)."""
    if not steps:
        return
    types = {f["id"]: f["type"] for s in steps for f in s.get("fields", [])}
    dates = sorted(k for k, v in types.items() if v == "date")
    refs = []
    until = data.get("validity", {}).get("until")
    if until:
        refs.append((("validity", "until", "field"), until["field"]))
    counted = data.get("term", {}).get("counted_from")
    if isinstance(counted, dict):
        refs.append((("term", "counted_from", "field"), counted["field"]))
    for path, name in refs:
        if types.get(name) != "date":
            what = f"is a {types[name]} field" if name in types else "is not a field of any step"
            yield path, (f"{name!r} {what}: name a date field "
                         f"({', '.join(dates) if dates else 'the forms have none'})")


def _appeal_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """An appeal or remarks definition: unique ids, outcomes the engine does not own, a reply
    step that ends the process, the anonymous rule's ground among the leave grounds."""
    for key, what in (("kinds", "kind"), ("topics", "topic"), ("outcomes", "outcome"),
                      ("leave_grounds", "ground")):
        yield from _unique(data.get(key, []), (key,), what)
    for i, outcome in enumerate(data.get("outcomes", [])):
        if outcome["id"] in RESERVED_OUTCOMES:
            yield (("outcomes", i, "id"),
                   f"outcome {outcome['id']!r} is recorded by the engine itself (reserved: "
                   f"{sorted(RESERVED_OUTCOMES)})")
    steps = data.get("steps", [])
    kinds = [s["kind"] for s in steps]
    if "decision" in kinds and kinds.index("decision") != len(kinds) - 1:
        yield (("steps", kinds.index("decision"), "kind"),
               "the decision step (the reply) must be the last step of an appeal")
    if "anonymous" in data:
        grounds = {g["id"] for g in data.get("leave_grounds", [])}
        if data["anonymous"]["ground"] not in grounds:
            yield (("anonymous", "ground"),
                   f"ground {data['anonymous']['ground']!r} is not one of leave_grounds")


def _notice_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """Notices: unique ids, known placeholders only, every reference to a notice defined."""
    notices = data.get("notices", [])
    yield from _unique(notices, ("notices",), "notice")
    for i, notice in enumerate(notices):
        for name in _PLACEHOLDER.findall(notice["text"]):
            if not _PLACEHOLDER_NAME.fullmatch(name) or name not in NOTICE_PLACEHOLDERS:
                yield (("notices", i, "text"),
                       f"unknown placeholder {{{name}}} (allowed: {sorted(NOTICE_PLACEHOLDERS)})")
    defined = {n["id"] for n in notices}
    term = data.get("term", {})
    refs = [(("term", "extensions", i, "notice"), e.get("notice"))
            for i, e in enumerate(term.get("extensions", []))]
    refs += [(("outcomes", i, "notice"), o.get("notice")) for i, o in enumerate(data.get("outcomes", []))]
    refs += [(("leave_grounds", i, "notice"), g["notice"])
             for i, g in enumerate(data.get("leave_grounds", []))]
    if "forwarding" in data:
        refs.append((("forwarding", "notice"), data["forwarding"]["notice"]))
    for path, ref in refs:
        if ref is not None and ref not in defined:
            yield path, f"notice {ref!r} is not defined in notices"
    extensions = term.get("extensions", [])
    yield from _unique(extensions, ("term", "extensions"), "extension")
    ids = {e["id"] for e in extensions}
    for i, ext in enumerate(extensions):
        if "requires" in ext and (ext["requires"] not in ids or ext["requires"] == ext["id"]):
            yield ("term", "extensions", i, "requires"), f"extension {ext['requires']!r} is not another extension"
        if _term_days(ext["term"]) < _term_days(term["max"]):
            yield ("term", "extensions", i, "term"), "an extension is shorter than the maximum term"


def _option_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """Service options (docs/authoring.md, "Service options"): a procedure's only, unique ids
    and titles, at most one default, and the default is the ordinary order that `term.max` and
    `fee` state (the stand, the diff and the checks read those)."""
    options = data.get("options")
    if not options:
        return
    if data.get("type", "procedure") != "procedure":
        yield ("options",), "only an administrative procedure has service options"
        return
    yield from _unique(options, ("options",), "option")
    titles: set[str] = set()
    for i, option in enumerate(options):
        if option["title"] in titles:
            yield ("options", i, "title"), f"option title {option['title']!r} is used twice"
        titles.add(option["title"])
    defaults = [i for i, option in enumerate(options) if option.get("default")]
    for i in defaults[1:]:
        yield ("options", i, "default"), (f"more than one default option: {options[defaults[0]]['id']!r} "
                                          f"is the default already")
    if defaults:
        i = defaults[0]
        option = options[i]
        if option["term"]["max"] != data["term"]["max"]:
            yield ("options", i, "term", "max"), (
                f"the default option is the ordinary order: its term must be term.max "
                f"({data['term']['max']!r})")
        if "fee" in data and option["fee"] != data["fee"]:
            yield ("options", i, "fee"), "the default option is the ordinary order: its fee must be the procedure's fee"


# A table's axes may multiply to at most this many combinations (each is checked for coverage).
MAX_FEE_COMBINATIONS = 10_000


def _fee_table_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """A fee table (docs/authoring.md, "Fee tables"): each axis a required choice field of the
    intake step, each cell's values choices of its axis, every combination priced exactly once.
    A table fee is the procedure's own: not inside a service option, nor beside options."""
    for i, option in enumerate(data.get("options") or []):
        if option["fee"]["kind"] == "table":
            yield ("options", i, "fee", "kind"), "a service option's fee cannot be a table"
    fee = data.get("fee", {})
    if fee.get("kind") != "table":
        return
    if data.get("options"):
        yield ("fee", "kind"), "a procedure with service options cannot have a table fee"
    intake = next((s for s in data.get("steps", []) if s.get("kind") == "intake"), None)
    fields = {f["id"]: f for f in (intake or {}).get("fields", [])}
    choices: dict[str, list[str]] = {}
    offered = sorted(k for k, f in fields.items() if f.get("type") == "choice")
    for i, axis in enumerate(fee["axes"]):
        field = fields.get(axis)
        if field is None or field.get("type") != "choice":
            yield ("fee", "axes", i), (f"axis {axis!r} is not a choice field of the intake step; "
                                      f"its choice fields: {offered}")
        elif not field.get("required"):
            yield ("fee", "axes", i), f"axis {axis!r}: the intake field must be required: true"
        else:
            choices[axis] = [c["id"] for c in field["choices"]]
    bad = False
    for c, cell in enumerate(fee["cells"]):
        for axis, value in cell["when"].items():
            if axis not in fee["axes"]:
                yield ("fee", "cells", c, "when", axis), f"{axis!r} is not an axis of the table: {fee['axes']}"
                bad = True
            elif axis in choices:
                for value_ in [value] if isinstance(value, str) else value:
                    if value_ not in choices[axis]:
                        yield ("fee", "cells", c, "when", axis), (
                            f"{value_!r} is not a choice of field {axis!r}: {choices[axis]}")
                        bad = True
    if bad or len(choices) != len(fee["axes"]):
        return
    total = math.prod(len(v) for v in choices.values())
    if total > MAX_FEE_COMBINATIONS:
        yield ("fee", "axes"), (f"the axes make {total} combinations; at most "
                               f"{MAX_FEE_COMBINATIONS}")
        return
    covered: dict[tuple[str, ...], int] = {}
    for c, cell in enumerate(fee["cells"]):
        when = cell["when"]
        sets = [([when[a]] if isinstance(when[a], str) else when[a]) if a in when else choices[a]
                for a in fee["axes"]]
        overlap = None
        for combo in itertools.product(*sets):
            if combo in covered:
                overlap = overlap or (covered[combo], combo)
            else:
                covered[combo] = c
        if overlap is not None:  # one message a cell: the first combination it prices twice
            yield ("fee", "cells", c), (f"overlaps cell {overlap[0] + 1}: both price "
                                        f"{_combo(fee['axes'], overlap[1])}")
    gaps = [combo for combo in itertools.product(*(choices[a] for a in fee["axes"]))
            if combo not in covered]
    if gaps:
        shown = "; ".join(_combo(fee["axes"], g) for g in gaps[:5])
        more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
        yield ("fee", "cells"), f"no cell prices {shown}{more}"


def _combo(axes: list[str], combo: tuple[str, ...]) -> str:
    return ", ".join(f"{a}={v}" for a, v in zip(axes, combo, strict=True))


def _unique(items: list[dict], path: tuple, what: str) -> Iterator[tuple[tuple, str]]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item["id"] in seen:
            yield path + (i, "id"), f"{what} id {item['id']!r} is used twice"
        seen.add(item["id"])


def _condition_problems(text: str, known: set[str] | None, path: tuple,
                        fields: str) -> Iterator[tuple[tuple, str]]:
    try:
        expression = compile_expression(text)
    except ExpressionError as exc:
        yield path, f"condition refused: {exc}"
        return
    if known is not None:
        for name in sorted(expression.names - known):
            yield path, f"condition uses {name!r}, which is neither {fields} nor one of {sorted(BUILTIN_NAMES)}"


def _regex_problem(pattern: str, path: tuple) -> Iterator[tuple[tuple, str]]:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        yield path, (f"pattern is not a regular expression RE2 accepts: {exc.reason} (patterns run in "
                     f"linear time: no backreferences or lookaround; see docs/authoring.md)")


_TERM_REF = "#/$defs/term"


def _term_problems(data: dict[str, Any]) -> Iterator[tuple[tuple, str]]:
    """Every place the schema types as a term must read as `okno due` reads it (engine/terms.py):
    one term language, with the accepted forms listed when a text does not read."""
    from engine.terms import TermError, parse_term

    for path, text in dict(_term_values(_schema(), data, ())).items():  # a path once
        try:
            parse_term(text)
        except TermError as exc:
            yield path, str(exc)


def _term_values(schema: Any, value: Any, path: tuple) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of each value of `value` the schema types as a term. The walk follows the
    already validated data, so it is bounded by the definition's size."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if ref == _TERM_REF:
        if isinstance(value, str):
            yield path, value
        return
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        yield from _term_values(_schema()["$defs"][ref.removeprefix("#/$defs/")], value, path)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            yield from _term_values(sub, value, path)
    for key in ("then", "else"):  # the data passed the schema: a branch's terms are the data's
        yield from _term_values(schema.get(key), value, path)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name, item in value.items():
            if name in props:
                yield from _term_values(props[name], item, (*path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from _term_values(schema["items"], item, (*path, i))


def _term_days(text: str) -> float:
    from engine.terms import parse_term

    return parse_term(text).approx_days




def _bound_problems(fld: dict[str, Any], where: tuple[Any, ...]) -> Iterator[tuple[tuple, str]]:
    """A field's `min`/`max`: numbers on a number field, date bounds on a date field (none on
    the others), and min not above max (relative bounds compared on one day)."""
    bounds = {k: fld[k] for k in ("min", "max") if k in fld}
    numeric = fld["type"] in ("integer", "number")
    for key, value in bounds.items():
        if fld["type"] == "date":
            problem = bound_problem(value)
            if problem is not None:
                yield (*where, key), problem
                return
        elif not numeric:
            yield (*where, key), f"a {fld['type']} field takes no {key}"
            return
        elif isinstance(value, str):
            yield (*where, key), f"{key} of a {fld['type']} field must be a number"
            return
    if len(bounds) == 2:
        low, high = bounds["min"], bounds["max"]
        if fld["type"] == "date":
            low, high = resolve(low, date(2000, 1, 1)), resolve(high, date(2000, 1, 1))
        if low > high:
            yield (*where, "min"), "min is greater than max"

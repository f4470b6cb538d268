"""Reading and checking the authorities catalog: the schema, then what a schema cannot say.

Errors (the catalog is refused): a file that is not valid YAML or does not match
`schemas/authority.schema.json`; a file not named by its id; an id used twice; a superior body
that is not in the catalog, or a chain of superiors that comes back to where it started; a
reception interval that ends before it starts or overlaps another; a procedure number both
included and excluded, or (when the procedures are known) one that is not in their catalog.
Warnings (reported, the catalog still loads): Directive No. 2's reception hours (`hours`).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.authorities.authority import WEEKDAYS, Authority, Interval, Person
from engine.authorities.catalog import AuthorityCatalog
from engine.authorities.hours import hours_warnings
from engine.definition.data_file import problems_at, read_data_file, read_file
from engine.definition.validation import CatalogError, Problem, definition_files
from engine.definition.yaml_source import Document

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "authority.schema.json"
DEFAULT_PATH = ROOT / "authorities"


@dataclass
class Checked:
    """What checking a catalog found: the authorities that are right, problems, warnings."""

    authorities: list[Authority] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files: int = 0


def check_authorities(paths: Iterable[str | Path],
                      procedure_numbers: Collection[str] | None = None) -> Checked:
    """Check every authority file under `paths` (files or folders of *.yaml files)."""
    result = Checked()
    docs: dict[str, tuple[Document, str, Authority]] = {}
    paths = [Path(p) for p in paths]
    for file in definition_files(paths):
        result.files += 1
        root = next((p for p in paths if p.is_dir() and file.is_relative_to(p)), file.parent)
        raw, problems = read_file(file, root)
        doc = None
        if raw is not None:
            doc, problems = read_data_file(raw, str(file), SCHEMA_PATH)
        result.problems.extend(problems)
        if doc is None:
            continue
        source = str(file)
        found = problems_at(doc, source, _file_problems(doc.data, file, procedure_numbers))
        if doc.data["id"] in docs:
            found += problems_at(doc, source, iter([(("id",), f"id {doc.data['id']!r} is already "
                                                    f"used by {docs[doc.data['id']][1]}")]))
        result.problems.extend(found)
        if found:
            continue
        result.warnings.extend(problems_at(doc, source, hours_warnings(_reception(doc.data))))
        docs[doc.data["id"]] = (doc, source, _build(doc.data, source))
    for doc, source, authority in docs.values():
        problems = problems_at(doc, source, _superior_problems(authority, docs))
        result.problems.extend(problems)
        if not problems:
            result.authorities.append(authority)
    result.problems.sort()
    result.warnings.sort()
    return result


def load_authorities(path: str | Path = DEFAULT_PATH,
                     procedure_numbers: Collection[str] | None = None) -> AuthorityCatalog:
    """The catalog of the folder at `path`; CatalogError with every problem if any is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise CatalogError([Problem(str(path), 1, 1, "no such folder")])
    checked = check_authorities([path], procedure_numbers)
    if checked.problems:
        raise CatalogError(checked.problems)
    return AuthorityCatalog({a.id: a for a in checked.authorities})


def _file_problems(data: dict[str, Any], file: Path,
                   numbers: Collection[str] | None) -> Iterator[tuple[tuple, str]]:
    if file.stem != data["id"]:
        yield ("id",), f"file name must be the id: {data['id']}.yaml"
    if data.get("superior") == data["id"]:
        yield ("superior",), "an authority cannot be its own superior body"
    for day, texts in data["reception"].items():
        intervals = [_interval(t) for t in texts]
        for i, interval in enumerate(intervals):
            if interval.end <= interval.start:
                yield ("reception", day, i), f"{texts[i]} ends before it starts"
        ordered = sorted(intervals)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.start < before.end:
                yield ("reception", day), f"{before} and {after} overlap"
    chosen = data.get("procedures", {})
    for i, number in enumerate(chosen.get("include", [])):
        if number in chosen.get("exclude", []):
            yield ("procedures", "include", i), f"{number} is both included and excluded"
    if numbers is not None:
        for key in ("include", "exclude"):
            for i, number in enumerate(chosen.get(key, [])):
                if number not in numbers:
                    yield ("procedures", key, i), f"procedure {number} is not in the catalog"


def _superior_problems(authority: Authority,
                       docs: dict[str, tuple[Document, str, Authority]]) -> Iterator[tuple[tuple, str]]:
    if authority.superior is None:
        return
    if authority.superior not in docs:
        yield ("superior",), f"superior body {authority.superior!r} is not in the catalog"
        return
    seen = [authority.id]
    current = docs[authority.superior][2]
    while current is not None:
        if current.id in seen:
            chain = " -> ".join([*seen, current.id])
            yield ("superior",), f"the superior bodies form a cycle: {chain}"
            return
        seen.append(current.id)
        current = docs[current.superior][2] if current.superior in docs else None


def _interval(text: str) -> Interval:
    start, end = text.split("-")
    return Interval(start, end)


def _reception(data: dict[str, Any]) -> dict[str, tuple[Interval, ...]]:
    return {day: tuple(sorted(_interval(t) for t in texts))
            for day, texts in data["reception"].items()}


def _person(data: dict[str, Any]) -> Person:
    return Person(data["name"], data["position"], data.get("room"), data.get("phone"))


def _build(data: dict[str, Any], source: str) -> Authority:
    reception = _reception(data)
    chosen = data.get("procedures", {})
    return Authority(
        id=data["id"], name=data["name"], kind=data["kind"], address=data["address"],
        phone=data["phone"],
        reception=tuple((day, reception[day]) for day in WEEKDAYS if reception.get(day)),
        officer=_person(data["officer"]), deputy=_person(data["deputy"]),
        superior=data.get("superior"), include=frozenset(chosen.get("include", ())),
        exclude=frozenset(chosen.get("exclude", ())), email=data.get("email"),
        website=data.get("website"), reception_notes=data.get("reception_notes"),
        notes=data.get("notes"), source=source)

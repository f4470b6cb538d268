"""Reading a YAML data file that a JSON Schema describes, with every problem at its file:line.

Procedures have their own, richer reader (`validation`); the other data files an administrator
or analyst edits beside them (the authorities catalog, the base unit values) share this one: the
same defensive YAML reader (`yaml_source`), a schema whose `pattern` has ECMA-262's meaning, and
`Problem`s that name the file, line and column. `Reloading` holds what was read from a file
or folder and reads it again when it changes on disk.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import jsonschema

from engine.definition.catalog_files import CatalogFileError, read_catalog_file
from engine.definition.validation import CatalogError, Problem
from engine.definition.yaml_source import MAX_FILE_BYTES, Document, YamlError, parse_yaml

log = logging.getLogger("okno.data")
T = TypeVar("T")
_END = re.compile(r"(?<!\\)\$")


def _pattern(validator, pattern, instance, schema):
    """`$` is the end of the text, as in ECMA-262 (Python's also matches before a final newline)."""
    if validator.is_type(instance, "string") and not re.search(_END.sub(r"\\Z", pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def schema_validator(path: Path) -> jsonschema.protocols.Validator:
    """The checked validator of the JSON Schema at `path` (read once per process)."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    return jsonschema.validators.extend(base, {"pattern": _pattern})(
        schema, format_checker=base.FORMAT_CHECKER)


def read_data_file(raw: bytes, source: str, schema: Path) -> tuple[Document | None, list[Problem]]:
    """The parsed file if it is valid YAML matching `schema`, and every problem found."""
    try:
        doc = parse_yaml(raw)
    except YamlError as exc:
        return None, [Problem(source, exc.line, exc.column, exc.message)]
    problems = sorted(Problem(source, *doc.position(_where(err)), _message(err))
                      for err in schema_validator(schema).iter_errors(doc.data))
    return (None, problems) if problems else (doc, [])


def read_file(path: Path, root: Path | None = None) -> tuple[bytes | None, list[Problem]]:
    """The bytes of a data file inside the folder `root` (default: its own), or the problem
    that it cannot be read (no such file, a link out of the folder, a FIFO, a device, …:
    `catalog_files`)."""
    try:
        return read_catalog_file(path, root or path.parent, MAX_FILE_BYTES, "its folder"), []
    except CatalogFileError as exc:
        return None, [Problem(str(path), 1, 1, "no such file" if exc.missing else str(exc))]


def problems_at(doc: Document, source: str,
                found: Iterator[tuple[tuple, str]]) -> list[Problem]:
    """Problems for (path in the data, message) pairs, each at the line of its value."""
    return [Problem(source, *doc.position(path), message) for path, message in found]


def _where(err: jsonschema.ValidationError) -> tuple:
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        return path + tuple(extra[:1])
    return path


def _message(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    if err.validator in ("oneOf", "anyOf") and err.context:
        best = jsonschema.exceptions.best_match(err.context)
        where = "/".join(str(p) for p in best.absolute_path) or where
        return f"{where}: {best.message}" if where else best.message
    return f"{where}: {err.message}" if where else err.message


def fingerprint(path: Path) -> tuple:
    """What changes when a file, or a YAML file in a folder, is edited, added or removed."""
    files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    marks = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            continue
        marks.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(marks)


class Reloading(Generic[T]):
    """The value `load(path)` gave, read again when the file (or folder) at `path` changes.

    The files are looked at (a `stat` each) at most once every `interval` seconds. A change that
    does not load (the loader raises CatalogError) is logged and the last good value is kept: a
    mistake being typed into a file never takes the pages down.
    """

    def __init__(self, path: Path, load: Callable[[Path], T], interval: float = 1.0) -> None:
        self.path, self.load, self.interval = path, load, interval
        self._mark = fingerprint(path)
        self._value = load(path)  # at start a wrong file stops the process (CatalogError)
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def get(self) -> T:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._value
        with self._lock:
            self._checked = now
            mark = fingerprint(self.path)
            if mark != self._mark:
                self._mark = mark
                try:
                    self._value = self.load(self.path)
                    log.info("re-read %s", self.path)
                except CatalogError as exc:
                    log.error("%s changed but cannot be read; keeping what was read before:\n%s",
                              self.path, exc)
            return self._value

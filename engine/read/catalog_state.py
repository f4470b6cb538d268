"""The catalog as the analyst reviews it: each definition file on disk now, checked by the same
validator `okno validate` runs, beside the version published from it; and the catalog as it
stood at a moment (or one stored version), the side of a diff.

A definition file is named by its number (`procedures/2.6.yaml`, a rule of the validator), so a
file that does not even parse still belongs to its procedure. Files are read when asked (a changed
definition shows on the next request); reading is bounded (`MAX_SOURCE_BYTES`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy.engine import Engine

from engine.definition.build import number_key
from engine.definition.procedure import Procedure
from engine.definition.validation import Problem, definition_files, validate_paths
from engine.errors import InvalidInput
from engine.read.queries import catalog_as_of
from engine.store.versions import Versions

MAX_SOURCE_BYTES = 1_000_000
VERSION_RE = re.compile(r"^[0-9a-f]{64}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DefinitionState:
    """One procedure: its file on disk now and what was published."""

    number: str
    name: str | None  # the published version's name, else the file's (when it is valid)
    path: Path  # where its definition file is (it may be missing)
    exists: bool
    problems: tuple[Problem, ...]  # of the file as it is now
    published: str | None  # the current version's hash
    on_disk: str | None  # the hash of the file's definition, when it is valid

    @property
    def valid(self) -> bool:
        return self.exists and not self.problems

    @property
    def changed(self) -> bool:
        """The file differs from the published version (it is published on the next start)."""
        return self.on_disk is not None and self.on_disk != self.published


def catalog_state(folder: Path, versions: Versions) -> list[DefinitionState]:
    """Every procedure published or found in `folder`, in the official list's order."""
    procedures, problems = validate_paths([folder])
    files = {f.stem: f for f in definition_files([folder]) if f.exists()}
    current = versions.current_versions()
    numbers = sorted(set(current) | set(files), key=_order)
    return [_state(n, folder, files.get(n), current.get(n), versions, procedures, problems)
            for n in numbers]


def definition_state(folder: Path, versions: Versions, number: str) -> DefinitionState | None:
    """One procedure's state (its file checked alone); None if it is neither published nor on
    disk."""
    path = folder / f"{number}.yaml"
    published = versions.current_versions().get(number)
    if published is None and not path.is_file():
        return None
    procedures, problems = validate_paths([path]) if path.is_file() else ([], [])
    return _state(number, folder, path if path.is_file() else None, published, versions,
                  procedures, problems)


def read_source(state: DefinitionState) -> str | None:
    """The definition file's text as it is now (None if missing; cut at `MAX_SOURCE_BYTES`)."""
    if not state.exists:
        return None
    with state.path.open("rb") as handle:
        raw = handle.read(MAX_SOURCE_BYTES)
    return raw.decode("utf-8", errors="replace")


def catalog_at(db: Engine, versions: Versions, spec: str) -> tuple[dict[str, Procedure], str]:
    """A side of a diff: 'current', a date YYYY-MM-DD (the catalog at the end of that day, UTC),
    or one stored version hash; with its label. InvalidInput or NotFound naming `spec`."""
    spec = spec.strip()
    if spec == "current":
        return {n: versions.get(v) for n, v in versions.current_versions().items()}, "current"
    if VERSION_RE.fullmatch(spec):
        proc = versions.get(spec)  # NotFound if not stored
        return {proc.number: proc}, f"version:{spec[:12]}"
    if DATE_RE.fullmatch(spec):
        try:
            day = date.fromisoformat(spec)
        except ValueError:
            raise InvalidInput(f"{spec!r} is not a date", field="spec") from None
        at = datetime.combine(day, time.max, tzinfo=UTC)
        return {n: versions.get(v) for n, v in catalog_as_of(db, at).items()}, day.isoformat()
    raise InvalidInput("expected 'current', a date YYYY-MM-DD or a version hash", field="spec")


# ------------------------------------------------------------------------------------ internals

def _state(number: str, folder: Path, file: Path | None, published: str | None,
           versions: Versions, procedures: list[Procedure],
           problems: list[Problem]) -> DefinitionState:
    path = file or folder / f"{number}.yaml"
    own = [p for p in problems if Path(p.path) == path]
    valid = next((p for p in procedures if Path(p.source) == path), None)
    name = versions.get(published).name if published else (valid.name if valid else None)
    return DefinitionState(number=number, name=name, path=path, exists=file is not None,
                           problems=tuple(own), published=published,
                           on_disk=valid.version if valid else None)


def _order(number: str) -> tuple:
    try:
        return (0, number_key(number), "")
    except ValueError:  # a file not named by a number (the validator says so)
        return (1, (), number)


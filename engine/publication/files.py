"""Validate a bounded set of in-memory catalog files {name: bytes}, storing nothing."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from engine.definition.procedure import Procedure
from engine.definition.validation import MAX_BPMN_BYTES, Problem, validate_paths
from engine.definition.yaml_source import MAX_FILE_BYTES

MAX_FILES = 200  # the whole catalog is some 40 definitions and their BPMN files
MAX_TOTAL_BYTES = 16 * 1024 * 1024
# A relative name of up to two folders (a definition names e.g. bpmn/2.2.bpmn): no "..",
# no hidden files, a known suffix.
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]{0,49}(?:\.[A-Za-z0-9_-]{1,49}){0,4}"
_NAME = re.compile(rf"(?:{_SEGMENT}/){{0,2}}{_SEGMENT}\.(?:yaml|yml|bpmn)")


def validate_files(files: dict[str, bytes]) -> tuple[list[Procedure], list[Problem]]:
    """The good Procedures and EVERY problem (file, line, column, message) of `files`.

    The files are written to a private temporary folder so that the validator `okno validate`
    uses checks them exactly as it checks procedures/ (BPMN files are found next to the
    definitions that name them); problems name the files as they were given."""
    problems = _bound_problems(files)
    if problems:
        return [], problems
    with tempfile.TemporaryDirectory(prefix="okno-publish-") as folder:
        root = Path(folder)
        for name, raw in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(raw)
        procedures, found = validate_paths([root])
        prefix = str(root) + "/"
        problems = sorted(Problem(p.path.removeprefix(prefix), p.line, p.column, p.message)
                          for p in found)
    return procedures, problems


def _bound_problems(files: dict[str, bytes]) -> list[Problem]:
    if not files:
        return [Problem("", 1, 1, "no files given")]
    if len(files) > MAX_FILES:
        return [Problem("", 1, 1, f"at most {MAX_FILES} files at once, {len(files)} given")]
    if sum(len(raw) for raw in files.values()) > MAX_TOTAL_BYTES:
        return [Problem("", 1, 1, f"at most {MAX_TOTAL_BYTES} bytes in all")]
    problems = []
    for name, raw in files.items():
        if not _NAME.fullmatch(name):
            problems.append(Problem(name[:100], 1, 1,
                                    "a file name is a relative name ending in .yaml, .yml or .bpmn"))
            continue
        limit = MAX_BPMN_BYTES if name.endswith(".bpmn") else MAX_FILE_BYTES
        if len(raw) > limit:
            problems.append(Problem(name, 1, 1, f"the file is larger than {limit} bytes"))
    if not any(name.endswith((".yaml", ".yml")) for name in files):
        problems.append(Problem("", 1, 1, "no definition (.yaml) among the files"))
    return sorted(problems)

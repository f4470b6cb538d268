"""Reading one side of a diff: a folder, or `git:REV` of a repository.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.definition.build import number_key
from engine.definition.procedure import Procedure
from engine.definition.validation import CatalogError, Problem, validate_paths
from engine.definition.yaml_source import YamlError, parse_yaml

# Loading a side: a folder or git:REV
# --------------------------------------------------------------------------------------------------

GIT_PREFIX = "git:"
CATALOG_FOLDER = "procedures"


class SideError(ValueError):
    """A side that cannot be read at all (not a git repository, unknown revision)."""


def _git(repo: Path, *args: str, binary: bool = False) -> Any:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise SideError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SideError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return done.stdout if binary else done.stdout.decode("utf-8").strip()


def load_git_catalog(rev: str, repo: str | Path | None = None,
                     folder: str = CATALOG_FOLDER) -> dict[str, Procedure]:
    """The catalog in ``folder`` at revision ``rev`` of the git repository containing ``repo``
    (default: the current directory). A revision without the folder is an empty catalog.
    Problems name ``git:REV:path:line:column`` and raise CatalogError."""
    if not rev or rev.startswith("-"):
        raise SideError(f"invalid git revision {rev!r}")
    root = Path(_git(Path(repo) if repo else Path.cwd(), "rev-parse", "--show-toplevel"))
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except SideError:
        raise SideError(f"unknown git revision {rev!r} in {root}") from None
    if not _git(root, "ls-tree", "-d", "--name-only", commit, "--", folder):
        return {}
    archive = _git(root, "archive", "--format=tar", commit, "--", folder, binary=True)
    label = f"{GIT_PREFIX}{rev}:"
    with tempfile.TemporaryDirectory(prefix="okno-diff-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        _extract_outside_bpmn(root, commit, Path(tmp), folder)
        procedures, problems = validate_paths([Path(tmp) / folder])

        def rel(path: str) -> str:
            try:
                return label + Path(path).relative_to(tmp).as_posix()
            except ValueError:
                return path

        if problems:
            raise CatalogError([Problem(rel(p.path), p.line, p.column, p.message) for p in problems])
        return {p.number: replace(p, source=rel(p.source))
                for p in sorted(procedures, key=lambda p: number_key(p.number))}


def _extract_outside_bpmn(root: Path, commit: str, tmp: Path, folder: str) -> None:
    """Definitions may name a BPMN file outside the catalog folder: fetch those too."""
    base = tmp / folder
    for file in base.rglob("*.yaml"):
        try:
            data = parse_yaml(file.read_bytes()).data
        except (YamlError, OSError):
            continue  # validation reports it, with its line and column, like any broken file
        bpmn = data.get("bpmn") if isinstance(data, dict) else None
        if isinstance(bpmn, dict):
            bpmn = bpmn.get("file")
        if not isinstance(bpmn, str):
            continue
        target = (file.parent / bpmn).resolve()
        if target.exists():
            continue
        try:
            inside = target.relative_to(tmp.resolve()).as_posix()
        except ValueError:
            continue  # outside the repository
        try:
            content = _git(root, "show", f"{commit}:{inside}", binary=True)
        except SideError:
            continue  # validation reports the missing file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def load_side(spec: str, repo: str | Path | None = None) -> dict[str, Procedure]:
    """One side of a diff: ``git:REV`` (the procedures/ folder at REV) or a catalog folder."""
    if spec.startswith(GIT_PREFIX):
        return load_git_catalog(spec[len(GIT_PREFIX):], repo=repo)
    path = Path(spec)
    procedures, problems = validate_paths([path])
    if problems:
        raise CatalogError(problems)
    return {p.number: p for p in sorted(procedures, key=lambda p: number_key(p.number))}



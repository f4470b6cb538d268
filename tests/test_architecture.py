"""The rules of the house: the import contracts in pyproject.toml hold, and breaking one fails."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), str(where / "pyproject.toml"), "--no-cache"],
                          cwd=where, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)})


def test_the_import_contracts_hold():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    for name in ("engine", "api"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_engine_importing_api_breaks_the_build(tmp_path):
    where = _copy(tmp_path)
    terms = where / "engine" / "terms.py"
    terms.write_text(terms.read_text(encoding="utf-8") + "\nimport api.app  # noqa\n", encoding="utf-8")
    result = _lint(where)
    assert result.returncode != 0
    assert "engine never imports api BROKEN" in result.stdout


def test_store_importing_runtime_breaks_the_build(tmp_path):
    where = _copy(tmp_path)
    rows = where / "engine" / "store" / "case_rows.py"
    rows.write_text(rows.read_text(encoding="utf-8") + "\nimport engine.runtime.case  # noqa\n",
                    encoding="utf-8")
    result = _lint(where)
    assert result.returncode != 0
    assert "store never imports runtime BROKEN" in result.stdout


def test_a_router_importing_the_app_breaks_the_build(tmp_path):
    where = _copy(tmp_path)
    router = where / "api" / "routes" / "cases.py"
    router.write_text(router.read_text(encoding="utf-8") + "\nimport api.app  # noqa\n",
                      encoding="utf-8")
    result = _lint(where)
    assert result.returncode != 0
    assert "api layers: no cycles between the app, its routers and what they share BROKEN" \
        in result.stdout

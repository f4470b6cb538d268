"""The rules of the house: the import contracts in pyproject.toml hold, and breaking one fails."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("module, line, contract", [
    ("engine/terms.py", "import api.app", "engine never imports api"),
    ("engine/store/case_rows.py", "import engine.runtime.case", "store never imports runtime"),
    ("engine/definition/build.py", "import engine.store.tables", "definition imports neither store nor runtime"),
    ("api/routes/cases.py", "import api.app",
     "api layers: no cycles between the app, its routers and what they share"),
])
def test_breaking_a_contract_breaks_the_build(tmp_path, module, line, contract):
    where = _copy(tmp_path)
    path = where / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = _lint(where)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout

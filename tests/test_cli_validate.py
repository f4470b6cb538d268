"""`okno validate`: exit 0 on a good catalog; each defect as path:line:column: message, exit 1."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.definition.validation import ROOT, definition_files

runner = CliRunner()
PROCEDURES = ROOT / "procedures"
PROBLEM = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")


def invoke(*args: str):
    return runner.invoke(app, ["validate", *args])


def line_and_column(text: str, line_text: str, value: str) -> tuple[int, int]:
    """1-based position of `value` on the only line that reads `line_text`."""
    lines = text.splitlines()
    [index] = [i for i, line in enumerate(lines) if line == line_text]
    return index + 1, lines[index].index(value) + 1


def replace_line(text: str, old: str, new: str, after: str | None = None) -> str:
    """Replace the first line equal to `old` (after the first line equal to `after`, if given)."""
    lines = text.splitlines(keepends=True)
    start = 0 if after is None else [line.rstrip("\n") for line in lines].index(after)
    for i in range(start, len(lines)):
        if lines[i].rstrip("\n") == old:
            lines[i] = new + "\n"
            return "".join(lines)
    raise AssertionError(f"no line {old!r}")


def test_validate_a_good_folder():
    result = invoke(str(PROCEDURES))
    assert result.exit_code == 0, result.output
    count = len(definition_files([PROCEDURES]))
    assert result.output == f"{count} procedure(s) valid\n"


def test_validate_one_good_file():
    result = invoke(str(PROCEDURES / "6.1.1.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output == "1 procedure(s) valid\n"


def test_default_path_is_procedures_in_the_current_folder(tmp_path, monkeypatch):
    shutil.copytree(PROCEDURES, tmp_path / "procedures")
    monkeypatch.chdir(tmp_path)
    result = invoke()
    assert result.exit_code == 0, result.output
    assert result.output.endswith("procedure(s) valid\n")

    (tmp_path / "procedures" / "6.1.1.yaml").write_text("number: [\n", encoding="utf-8")
    result = invoke()
    assert result.exit_code == 1
    assert result.output.startswith(f"{Path('procedures') / '6.1.1.yaml'}:2:1: invalid YAML")


def test_default_path_missing_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke()
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "procedures:1:1: no such file or folder", "1 problem(s) in 1 of 1 file(s)"]


def test_nonexistent_path_is_reported(tmp_path):
    missing = tmp_path / "nope" / "9.9.yaml"
    result = invoke(str(PROCEDURES), str(missing))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{missing}:1:1: no such file or folder" in lines
    assert lines[-1].startswith("1 problem(s) in 1 of ")


@pytest.fixture
def defective_copy(tmp_path):
    """A copy of procedures/ with three defects planted in two files; returns the folder and the
    expected (path, line, column, words) of each defect."""
    folder = tmp_path / "procedures"
    shutil.copytree(PROCEDURES, folder)
    original = (PROCEDURES / "6.1.1.yaml").read_text(encoding="utf-8")

    # 6.1.1.yaml: two schema defects, an unknown channel and an unknown system role.
    first = replace_line(original, "channels: [in_person, post]", "channels: [in_person, fax]")
    first = replace_line(first, "    acts_as: supervisor", "    acts_as: boss")
    (folder / "6.1.1.yaml").write_text(first, encoding="utf-8")

    # 6.1.2.yaml: a valid copy under another number, but one step names an undeclared role.
    second = replace_line(original, 'number: "6.1.1"', 'number: "6.1.2"')
    second = replace_line(second, "    role: registrar", "    role: lawyer", after="  - id: review")
    (folder / "6.1.2.yaml").write_text(second, encoding="utf-8")

    expected = [
        (folder / "6.1.1.yaml", *line_and_column(first, "channels: [in_person, fax]", "fax"),
         ("channels/1", "'fax'")),
        (folder / "6.1.1.yaml", *line_and_column(first, "    acts_as: boss", "boss"),
         ("acts_as", "'boss'")),
        (folder / "6.1.2.yaml", *line_and_column(second, "    role: lawyer", "lawyer"),
         ("'lawyer'", "not declared")),
    ]
    return folder, expected


def test_each_defect_is_reported_with_file_line_and_column(defective_copy):
    folder, expected = defective_copy
    result = invoke(str(folder))
    assert result.exit_code == 1
    *problems, summary = result.output.splitlines()
    assert len(problems) == 3, result.output
    for line, (path, row, column, words) in zip(problems, expected, strict=True):
        match = PROBLEM.match(line)
        assert match, line
        assert match["path"] == str(path)
        assert (int(match["line"]), int(match["column"])) == (row, column), line
        for word in words:
            assert word in match["message"], line
    files = len(definition_files([folder]))
    assert summary == f"3 problem(s) in 2 of {files} file(s)"


def test_defects_with_relative_paths(defective_copy, monkeypatch):
    folder, expected = defective_copy
    monkeypatch.chdir(folder.parent)
    result = invoke()
    assert result.exit_code == 1
    paths = [PROBLEM.match(line)["path"] for line in result.output.splitlines()[:-1]]
    assert paths == [str(Path("procedures") / p.name) for p, *_ in expected]


def test_a_bad_file_among_good_ones_only_fails_itself(tmp_path):
    folder = tmp_path / "procedures"
    shutil.copytree(PROCEDURES, folder)
    (folder / "9.1.yaml").write_bytes(b"number: '9.1'\nchapter: \xff\n")
    result = invoke(str(folder))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{folder / '9.1.yaml'}:2:10: file is not valid UTF-8"


def test_an_empty_folder_is_an_error(tmp_path):
    result = invoke(str(tmp_path))
    assert result.exit_code == 1
    assert "no procedure definitions" in result.output


def test_yml_files_are_validated_too(tmp_path):
    source = (ROOT / "procedures" / "6.1.1.yaml").read_text(encoding="utf-8")
    (tmp_path / "6.1.1.yml").write_text(source.replace('number: "6.1.1"', 'number: "6.1.1"\nbogus: 1'),
                                        encoding="utf-8")
    result = invoke(str(tmp_path))
    assert result.exit_code == 1
    assert "6.1.1.yml:" in result.output and "bogus" in result.output

"""What a definition controls cannot stall the server or the cases: its field patterns run on
RE2, the constant parts of its expressions are evaluated at validation with the run-time limits,
and its files are read only as regular files inside the catalog folder (issue 14, items 3 and 6).
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.bpmn.check import check_bpmn
from engine.bpmn.xml import BpmnError
from engine.definition.catalog_files import CatalogFileError, read_catalog_file
from engine.definition.field_pattern import PatternError, compile_pattern
from engine.definition.procedure import Field
from engine.definition.validation import ROOT, validate_paths
from engine.errors import InvalidInput
from engine.runtime.forms import clean_form, example_form
from tests.test_catalog import BASE, check, dump, line_of, mutated

PROCEDURES = ROOT / "procedures"
DATA = Path(__file__).parent / "data"
runner = CliRunner()


def with_pattern(pattern: str) -> dict:
    def change(data: dict) -> None:
        data["steps"][0]["fields"].append({"id": "code", "title": "Код", "type": "string",
                                           "pattern": pattern})
    return mutated(change)


# --- field patterns -----------------------------------------------------------------------------

NESTED = "^(a+)+$"  # with a backtracking engine, 34 a's and a '!' take minutes


def test_a_nested_quantifier_pattern_validates_and_never_backtracks():
    procedure, problems, _ = check(with_pattern(NESTED))
    assert problems == []
    [field] = [f for f in procedure.steps[0].fields if f.id == "code"]
    assert clean_form((field,), {"code": "a" * 34}) == {"code": "a" * 34}
    for hostile in ("a" * 34 + "!", "a" * 9_999 + "!"):  # Python's re would never return here
        with pytest.raises(InvalidInput, match="не соответствует требуемому формату") as info:
            clean_form((field,), {"code": hostile})
        assert info.value.field == "data.code"


def test_example_values_are_chosen_with_the_same_engine():
    field = Field(id="code", title="Код", type="string", pattern=r"^(\d+)+$")
    assert example_form((field,)) == {"code": "1234567"}


@pytest.mark.parametrize("pattern", [r"^(a)\1$", r"^(?=a)a$", r"^(?<!b)a$", r"^a{1001}$"])
def test_a_pattern_re2_cannot_run_is_refused_at_its_line(pattern):
    procedure, problems, text = check(with_pattern(pattern))
    assert procedure is None
    [problem] = problems
    assert problem.line == line_of(text, ("steps", 0, "fields", 1, "pattern"))
    assert "RE2" in problem.message and "linear time" in problem.message
    with pytest.raises(PatternError):
        compile_pattern(pattern)


def test_the_end_of_a_pattern_is_the_end_of_the_value():
    """`$` does not match before a final newline (as in JavaScript, unlike Python's re)."""
    pattern = compile_pattern("^[0-9]{3}$")
    assert pattern.matches("123")
    assert not pattern.matches("123\n")
    assert compile_pattern("[0-9]{3}").matches("123")  # the whole value, anchors or not
    assert not compile_pattern("[0-9]{3}").matches("1234")


def test_every_catalog_pattern_compiles_on_re2():
    procedures, problems = validate_paths([PROCEDURES])
    assert problems == []
    patterns = {f.pattern for p in procedures for s in p.steps for f in s.fields if f.pattern}
    assert patterns
    for pattern in patterns:
        assert isinstance(compile_pattern(pattern).matches("1234567A001PB1"), bool)


# --- constant parts of expressions --------------------------------------------------------------

BOMBS = ["9**9**9 > 1", "len('a'*10**10) > 0", "'%0100000000d' % 1 == ''", "int('9'*1999) > 0",
         "10.0**400 > 1", "round(5, -3*10**7) == 0"]


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_constant_bomb_in_a_condition_is_refused_at_its_line(bomb):
    data = mutated(lambda d: d["steps"][1].__setitem__("condition", f"reason == 'lost' and {bomb}"))
    procedure, problems, text = check(data)
    assert procedure is None
    [problem] = problems
    assert problem.line == line_of(text, ("steps", 1, "condition"))
    assert problem.message.startswith("condition refused:")
    assert "reads no field" in problem.message


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_constant_bomb_in_a_document_condition_is_refused(bomb):
    data = mutated(lambda d: d["documents"][2].__setitem__("condition", bomb))
    _, problems, text = check(data)
    assert [p.line for p in problems] == [line_of(text, ("documents", 2, "condition"))]


def test_okno_validate_names_the_file_and_line_of_a_bomb(tmp_path):
    data = mutated(lambda d: d["steps"][1].__setitem__("condition", "9**9**9 > 1"))
    text = dump(data)
    (tmp_path / "6.1.1.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    line = line_of(text, ("steps", 1, "condition"))
    assert result.output.startswith(f"{tmp_path / '6.1.1.yaml'}:{line}:")
    assert "number too large" in result.output


def test_a_constant_part_that_is_never_reached_is_still_refused():
    """A part that reads no field fails wherever it is: short-circuiting does not hide it."""
    for condition in ("False and 9**9**9 > 1", "reason if True else round(5, -3*10**7)"):
        _, problems, _ = check(mutated(lambda d, c=condition: d["steps"][1].__setitem__("condition", c)))
        assert len(problems) == 1 and "reads no field" in problems[0].message


def test_constant_parts_within_the_limits_still_validate():
    for condition in ("reason == 'l' + 'ost'", "len('a' * 1000) == 1000 and reason == 'lost'",
                      "2 ** 64 // 2 ** 60 == 16", "round(2.5, 1) == 2.5", "'lost'.upper() != reason"):
        procedure, problems, _ = check(mutated(lambda d, c=condition: d["steps"][1].__setitem__("condition", c)))
        assert problems == [] and procedure is not None, condition


def drawn(timer: str = '"P1D"', script: str = "reminder = TIMER_TARGET") -> str:
    xml = (DATA / "timer_script.bpmn").read_text(encoding="utf-8")
    return xml.replace('"P1D"', timer, 1).replace("reminder = TIMER_TARGET", script, 1)


@pytest.mark.parametrize(("timer", "script"), [
    ('"P1D" if 9**9**9 > 1 else "P2D"', "reminder = TIMER_TARGET"),
    ('"P1D"', "reminder = TIMER_TARGET\nlimit = round(5, -3*10**7)"),
    ('"P1D"', "size = len('a'*10**10)"),
])
def test_a_constant_bomb_in_a_drawn_timer_or_script_is_refused_with_its_line(timer, script):
    check_bpmn(drawn(), {"clerk"})  # the file as it is passes
    with pytest.raises(BpmnError, match=r"^line \d+: .*reads no field"):
        check_bpmn(drawn(timer, script), {"clerk"})


# --- catalog files ----------------------------------------------------------------------------------


@pytest.fixture
def catalog(tmp_path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    shutil.copy(PROCEDURES / "6.1.1.yaml", folder / "6.1.1.yaml")
    return folder


SECRET = "root:x:0:0:secret-line-of-a-file-outside:/root:/bin/bash\n"


def test_a_yaml_link_out_of_the_catalog_is_refused_without_quoting_its_target(catalog):
    outside = catalog.parent / "passwd"
    outside.write_text(SECRET, encoding="utf-8")
    (catalog / "1.1.5.yaml").symlink_to(outside)
    for target in (catalog, catalog / "1.1.5.yaml"):
        result = runner.invoke(app, ["validate", str(target)])
        assert result.exit_code == 1
        assert f"{catalog / '1.1.5.yaml'}:1:1: the file lies outside the catalog folder" in result.output
        assert "secret-line" not in result.output and "root:x" not in result.output


def test_a_link_inside_the_catalog_is_followed(catalog):
    (catalog / "drafts").mkdir()
    (catalog / "6.1.1.yaml").rename(catalog / "drafts" / "6.1.1.yaml")
    (catalog / "6.1.1.yaml").symlink_to(Path("drafts") / "6.1.1.yaml")
    raw = read_catalog_file(catalog / "6.1.1.yaml", catalog, 1 << 20)
    assert raw == (PROCEDURES / "6.1.1.yaml").read_bytes()


def test_a_fifo_in_the_catalog_is_refused_without_blocking(catalog):
    os.mkfifo(catalog / "9.9.yaml")  # reading it would wait for a writer forever
    procedures, problems = validate_paths([catalog])
    assert [p.number for p in procedures] == ["6.1.1"]
    assert [str(p) for p in problems] == [
        f"{catalog / '9.9.yaml'}:1:1: the file is a FIFO (named pipe), not a regular file"]


def test_a_device_in_the_catalog_is_refused(catalog):
    try:
        os.mknod(catalog / "9.9.yaml", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here")
    _, problems = validate_paths([catalog])
    assert [p.message for p in problems] == ["the file is a device, not a regular file"]


def test_an_oversized_file_is_refused_before_it_is_read(catalog):
    with open(catalog / "9.9.yaml", "wb") as big:
        big.truncate(10 * 1024 * 1024)  # sparse: ten megabytes of nothing
    _, problems = validate_paths([catalog])
    assert [p.message for p in problems] == [
        "the file is 10485760 bytes, over the limit of 262144"]


def bpmn_definition(catalog: Path, bpmn: str) -> Path:
    data = {k: v for k, v in BASE.items() if k != "steps"}
    data["bpmn"] = bpmn
    path = catalog / "6.1.1.yaml"
    path.write_text(dump(data), encoding="utf-8")
    return path


def test_a_bpmn_fifo_is_refused_without_blocking(catalog):
    bpmn_definition(catalog, "flow.bpmn")
    os.mkfifo(catalog / "flow.bpmn")
    _, problems = validate_paths([catalog])
    assert [p.message for p in problems] == [
        "BPMN file flow.bpmn is a FIFO (named pipe), not a regular file"]


def test_a_bpmn_link_out_of_the_folder_is_refused(catalog):
    bpmn_definition(catalog, "flow.bpmn")
    (catalog.parent / "flow.bpmn").write_text("<not-bpmn>" + SECRET, encoding="utf-8")
    (catalog / "flow.bpmn").symlink_to(catalog.parent / "flow.bpmn")
    _, problems = validate_paths([catalog])
    assert [p.message for p in problems] == [
        "BPMN file flow.bpmn lies outside the definition's folder; links out of it are not followed"]


def test_reading_refuses_a_folder_and_a_missing_file(catalog):
    (catalog / "folder.yaml").mkdir()
    with pytest.raises(CatalogFileError, match="is a folder"):
        read_catalog_file(catalog / "folder.yaml", catalog, 1024)
    with pytest.raises(CatalogFileError) as info:
        read_catalog_file(catalog / "none.yaml", catalog, 1024)
    assert info.value.missing

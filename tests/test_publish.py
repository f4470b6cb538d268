"""Publishing without a restart: validating uploaded catalog files (okno issue 11, part 1)."""

from pathlib import Path

from engine.publication.files import MAX_FILES, validate_files

PROCEDURES = Path(__file__).resolve().parent.parent / "procedures"


def _files(*names: str) -> dict[str, bytes]:
    return {name: (PROCEDURES / name).read_bytes() for name in names}


def test_valid_files_give_procedures_and_no_problems():
    procedures, problems = validate_files(_files("1.1.5.yaml", "2.2.yaml", "bpmn/2.2.bpmn"))
    assert problems == []
    assert sorted(p.number for p in procedures) == ["1.1.5", "2.2"]


def test_every_problem_of_several_files_with_line_and_column():
    files = _files("1.1.5.yaml", "2.2.yaml")  # 2.2 without the BPMN file it names
    files["1.1.5.yaml"] = files["1.1.5.yaml"].replace(b'number: "1.1.5"', b'number: "1.1.5"\nbogus: 1')
    files["9.9.yaml"] = b"number: [\n"
    procedures, problems = validate_files(files)
    assert {p.path for p in problems} == {"1.1.5.yaml", "2.2.yaml", "9.9.yaml"}
    bogus = next(p for p in problems if p.path == "1.1.5.yaml")
    assert bogus.line == 3 and bogus.column > 1 and "bogus" in bogus.message
    assert all(p.line >= 1 and p.column >= 1 for p in problems)
    assert procedures == []


def test_bounds_and_names_are_refused_before_reading():
    assert validate_files({})[1][0].message == "no files given"
    many = {f"{i}.yaml": b"" for i in range(MAX_FILES + 1)}
    assert "at most" in validate_files(many)[1][0].message
    problems = validate_files({"../evil.yaml": b"number: x"})[1]
    assert problems[0].path == "../evil.yaml" and "relative name" in problems[0].message

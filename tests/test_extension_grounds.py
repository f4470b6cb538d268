"""Extension grounds beyond a document request on an administrative procedure (issue 13, part 2):
`term.extensions` is not reserved for appeals; a clerk applies one by id and the due date moves."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.definition.validation import validate_paths
from engine.errors import InvalidInput, NotAllowed
from tests.casework import CATALOG, Engine

EXTENSIONS = ('  extensions:\n'
              '    - id: inspection\n'
              '      title: "проведение проверки сведений, представленных заявителем"\n'
              '      term: "2 months"\n'
              '      legal_basis: "Закон Республики Беларусь «Об основах административных процедур», ст. 10"\n')


def _with_extensions(tmp_path: Path, block: str = EXTENSIONS) -> Path:
    text = (CATALOG / "2.5.yaml").read_text(encoding="utf-8")
    anchor = '  when_documents_requested: "1 month"\n'
    assert anchor in text
    path = tmp_path / "2.5.yaml"
    path.write_text(text.replace(anchor, anchor + block), encoding="utf-8")
    return path


def test_an_administrative_procedure_may_name_extension_grounds(tmp_path):
    procedures, problems = validate_paths([_with_extensions(tmp_path)])
    assert problems == []
    (ext,) = procedures[0].term.extensions
    assert (ext.id, ext.term) == ("inspection", "2 months")


def test_an_extension_shorter_than_the_maximum_term_is_refused_with_its_line(tmp_path):
    path = _with_extensions(tmp_path, EXTENSIONS.replace('"2 months"', '"5 days"'))
    _, problems = validate_paths([path])
    line = path.read_text(encoding="utf-8").splitlines().index('      term: "5 days"') + 1
    assert [(p.path, p.line) for p in problems] == [(str(path), line)]
    assert "shorter than the maximum term" in str(problems[0])


@pytest.fixture
def eng(tmp_path):
    procedures, problems = validate_paths([_with_extensions(tmp_path)])
    assert problems == []
    return Engine(tmp_path / "okno.db", procedures={p.number: p for p in procedures})


def test_an_extension_moves_the_due_date_once(eng):
    case_id = eng.start("2.5")
    # Started Wednesday 18 June 2025; 10 days: Saturday 28 June, so Monday 30 June 2025.
    assert eng.case(case_id)["due_date"] == date(2025, 6, 30)
    eng.cases.extend(case_id, "inspection", actor="clerk-1")
    case = eng.case(case_id)
    # 2 months from 18 June 2025: Monday 18 August 2025, a working day.
    assert (case["due_date"], case["extension"]) == (date(2025, 8, 18), "inspection")
    with pytest.raises(NotAllowed):
        eng.cases.extend(case_id, "inspection", actor="clerk-1")
    assert eng.case(case_id) == case


def test_an_unknown_extension_names_the_field_and_changes_nothing(eng):
    case_id = eng.start("2.5")
    before = eng.case(case_id)
    with pytest.raises(InvalidInput) as exc:
        eng.cases.extend(case_id, "whim", actor="clerk-1")
    assert exc.value.field == "extension" and "inspection" in str(exc.value)
    assert eng.case(case_id) == before

"""The format's terms (issue 13, part 2a): `when_documents_requested` without catalog documents."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definition.validation import validate_paths
from engine.errors import InvalidInput, NotAllowed
from engine.store.tables import events
from tests.casework import CATALOG, Engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db")


def _copy_with_term(tmp_path: Path, number: str, term: str) -> Path:
    """A copy of a catalog definition whose `term:` block is replaced by `term`."""
    text = (CATALOG / f"{number}.yaml").read_text(encoding="utf-8")
    start, end = text.index("term:\n"), text.index("validity:\n")
    path = tmp_path / f"{number}.yaml"
    path.write_text(text[:start] + term + text[end:], encoding="utf-8")
    return path


def test_when_documents_requested_without_requested_documents_is_valid(tmp_path):
    path = _copy_with_term(tmp_path, "2.5", 'term:\n  max: "10 days"\n  when_documents_requested: "1 month"\n')
    procedures, problems = validate_paths([path])
    assert problems == []
    assert not procedures[0].requested_documents
    assert procedures[0].term.when_documents_requested == "1 month"


def test_when_documents_requested_shorter_than_max_is_a_problem_with_its_line(tmp_path):
    path = _copy_with_term(tmp_path, "2.5", 'term:\n  max: "10 days"\n  when_documents_requested: "5 days"\n')
    _, problems = validate_paths([path])
    line = path.read_text(encoding="utf-8").splitlines().index('  when_documents_requested: "5 days"') + 1
    assert [(p.path, p.line) for p in problems] == [(str(path), line)]
    assert "shorter than the maximum term" in str(problems[0])
    assert str(problems[0]).startswith(f"{path}:{line}:")


@pytest.mark.parametrize("number", ["2.5", "2.13"])
def test_free_request_extends_the_term_as_a_document_request_does(eng, number):
    case_id = eng.start(number)
    # Started Wednesday 18 June 2025. 10 calendar days: 28 June, a Saturday, so the next
    # working day, Monday 30 June 2025.
    assert eng.case(case_id)["due_date"] == date(2025, 6, 30)
    eng.cases.record_information(case_id, "ФСЗН", "сведения о стаже", actor="clerk-1")
    case = eng.case(case_id)
    # 1 month from 18 June 2025: 18 July 2025, a Friday and a working day.
    assert case["due_date"] == date(2025, 7, 18) and case["documents_requested"]
    eng.cases.record_information(case_id, "ФСЗН", "сведения о стаже", actor="clerk-1",
                                 received=True)
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)
    with eng.db.connect() as conn:
        rows = conn.execute(select(events.c.action, events.c.data)
                            .where(events.c.action == "information")).all()
    assert [(json.loads(r.data)["asked"], json.loads(r.data)["status"]) for r in rows] == [
        ("сведения о стаже", "requested"), ("сведения о стаже", "received")]


def test_free_request_texts_are_bounded_and_the_case_unchanged(eng):
    case_id = eng.start("2.5")
    before = eng.case(case_id)
    with pytest.raises(InvalidInput) as exc:
        eng.cases.record_information(case_id, "ФСЗН", "x" * 501, actor="clerk-1")
    assert exc.value.field == "asked"
    with pytest.raises(InvalidInput) as exc:
        eng.cases.record_information(case_id, " ", "сведения", actor="clerk-1")
    assert exc.value.field == "body"
    assert eng.case(case_id) == before


def test_free_request_refused_without_a_longer_term(eng):
    number = next(p.stem for p in sorted(CATALOG.glob("*.yaml"))
                  if "when_documents_requested" not in p.read_text(encoding="utf-8")
                  and "kind: appeal" not in p.read_text(encoding="utf-8"))
    case_id = eng.start(number)
    before = eng.case(case_id)
    with pytest.raises(NotAllowed, match="no term for requested"):
        eng.cases.record_information(case_id, "ФСЗН", "сведения", actor="clerk-1")
    assert eng.case(case_id) == before


def test_the_real_catalog_still_validates(tmp_path):
    shutil.copytree(ROOT / "procedures", tmp_path / "procedures")
    _, problems = validate_paths([tmp_path / "procedures"])
    assert problems == []

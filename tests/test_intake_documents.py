"""Intake cannot complete until each document the citizen must present is recorded (okno issue 13,
part 4): presented, or requested where the row allows it; every missing one named at once, in
Russian, over the engine, the JSON API and the intake page; nothing changes when it is refused."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.errors import DocumentsMissing, NotAllowed
from engine.store.tables import case_documents, cases, events, tasks
from tests.casework import CATALOG, Engine, catalog, sample_form
from tests.pages_support import post_form, sign_in_client
from tests.test_api_support import Api

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# 2.6 (the birth allowance): the birth record certificate when born in Belarus, the foreign
# birth certificate otherwise; marriage certificate only when married.
ALWAYS = {"application", "passport"}


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db")


def _intake(eng: Engine, number: str = "2.6", **data):
    case_id = eng.start(number)
    [task] = eng.open_tasks(case_id)
    assert task["kind"] == "intake"
    form = {**sample_form(eng.versions.current(number).step(task["step"]).fields), **data}
    return case_id, task, form


def _counts(db) -> tuple[int, ...]:
    with db.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (cases, tasks, events, case_documents))


def _missing(exc: DocumentsMissing) -> set[str]:
    return {e.field.removeprefix("documents.") for e in exc.errors}


def test_intake_without_documents_is_refused_naming_every_missing_one_and_nothing_changes(eng):
    case_id, task, form = _intake(eng, born_in_belarus=False, married=False)
    before, counts = eng.case(case_id), _counts(eng.db)
    with pytest.raises(DocumentsMissing) as exc:
        eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert _missing(exc.value) == ALWAYS | {"foreign_birth_certificate"}
    titles = {e.title for e in exc.value.errors}
    assert "паспорт или иной документ, удостоверяющий личность" in titles
    assert all(CYRILLIC.search(e.message) for e in exc.value.errors)
    assert eng.case(case_id) == before and _counts(eng.db) == counts
    assert [t["id"] for t in eng.open_tasks(case_id)] == [task["id"]]


def test_a_conditional_document_is_needed_only_when_its_condition_holds(eng):
    case_id, task, form = _intake(eng, born_in_belarus=True, married=True)
    for doc in ALWAYS | {"foreign_birth_certificate"}:  # the wrong certificate: not enough
        eng.cases.record_document(case_id, doc, "presented", actor="clerk-1")
    with pytest.raises(DocumentsMissing) as exc:
        eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert _missing(exc.value) == {"birth_record_certificate", "marriage_certificate"}
    eng.cases.record_document(case_id, "birth_record_certificate", "presented", actor="clerk-1")
    eng.cases.record_document(case_id, "marriage_certificate", "presented", actor="clerk-1")
    eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert task["id"] not in {t["id"] for t in eng.open_tasks(case_id)}


def test_documents_whose_condition_is_false_are_not_needed(eng):
    case_id, task, form = _intake(eng, born_in_belarus=False, married=False, child_order=1)
    for doc in ALWAYS | {"foreign_birth_certificate"}:
        eng.cases.record_document(case_id, doc, "presented", actor="clerk-1")
    eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert eng.open_tasks(case_id)[0]["kind"] != "intake"


def test_a_condition_on_a_later_steps_field_demands_nothing_at_intake(tmp_path):
    """`copies` is filled in at review: at intake the condition cannot be told, so the document
    is not demanded (Directive No. 2, §2.2), while the checklist shows it as "maybe"."""
    data = catalog()["6.1.1"].definition
    review = next(s for s in data["steps"] if s["id"] == "review")
    review.setdefault("fields", []).append({"id": "copies", "title": "Количество копий",
                                            "type": "integer"})
    data["documents"].append({"id": "copies_application", "title": "заявление о копиях",
                              "condition": "copies > 1"})
    proc = build_procedure(data, "6.1.1.yaml")
    assert proc.documents[-1].id == "copies_application"
    eng = Engine(tmp_path / "later.db", procedures={"6.1.1": proc})
    case_id, task, form = _intake(eng, "6.1.1", reason="lost")
    for doc in catalog()["6.1.1"].documents:
        eng.cases.record_document(case_id, doc.id, "presented", actor="clerk-1")
    eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert eng.open_tasks(case_id)[0]["kind"] != "intake"


def _flagged(tmp_path: Path) -> Engine:
    """2.6 with the passport `may_be_requested` and the application `optional`, loaded through
    the schema and the semantic checks like any definition."""
    folder = tmp_path / "procedures"
    folder.mkdir()
    text = (CATALOG / "2.6.yaml").read_text(encoding="utf-8")
    text = text.replace('  - id: passport\n', '  - id: passport\n    may_be_requested: true\n', 1)
    text = text.replace('  - id: application\n', '  - id: application\n    optional: true\n', 1)
    (folder / "2.6.yaml").write_text(text, encoding="utf-8")
    procedures = load_catalog(folder)
    docs = {d.id: d for d in procedures["2.6"].documents}
    assert docs["passport"].may_be_requested and docs["application"].optional
    return Engine(tmp_path / "flagged.db", procedures=procedures)


def test_a_document_the_row_lets_the_authority_request_may_be_recorded_as_requested(tmp_path):
    eng = _flagged(tmp_path)
    case_id, task, form = _intake(eng, born_in_belarus=True, married=False)
    eng.cases.record_document(case_id, "birth_record_certificate", "presented", actor="clerk-1")
    with pytest.raises(DocumentsMissing) as exc:  # the optional application is not asked for
        eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert _missing(exc.value) == {"passport"}
    assert "запрошенный органом" in exc.value.errors[0].message
    eng.cases.record_document(case_id, "passport", "requested", actor="clerk-1")
    eng.cases.complete_task(case_id, task["id"], form, actor="clerk-1")
    assert eng.case(case_id)["documents_requested"] is True


def test_without_the_flag_a_presented_document_cannot_be_requested_instead(eng):
    case_id, task, form = _intake(eng)
    with pytest.raises(NotAllowed, match="presented by the citizen"):
        eng.cases.record_document(case_id, "passport", "requested", actor="clerk-1")


def test_a_flag_that_is_not_boolean_is_refused_by_the_schema(tmp_path):
    folder = tmp_path / "procedures"
    folder.mkdir()
    text = (CATALOG / "2.6.yaml").read_text(encoding="utf-8")
    (folder / "2.6.yaml").write_text(text.replace(
        '  - id: passport\n', '  - id: passport\n    may_be_requested: "да"\n', 1), encoding="utf-8")
    with pytest.raises(Exception, match="may_be_requested"):
        load_catalog(folder)


# ------------------------------------------------------------------------------------ the faces

def test_the_api_answers_409_problem_naming_every_missing_document(tmp_path):
    api = Api(tmp_path)
    case_id = api.start("2.6")["id"]
    [task] = api.open_tasks(case_id)
    data = {**sample_form(catalog()["2.6"].step("intake").fields), "born_in_belarus": True}
    counts = _counts(api.db)
    r = api.post(f"/api/cases/{case_id}/tasks/{task['id']}/complete", "clerk", {"data": data})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("documents-missing")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"documents.application", "documents.passport",
                      "documents.birth_record_certificate"}
    assert all(CYRILLIC.search(e["detail"]) for e in body["errors"])
    assert _counts(api.db) == counts
    docs = {d["id"]: d for d in api.get("/api/procedures/2.6").json()["documents"]}
    assert docs["passport"]["may_be_requested"] is False and docs["passport"]["optional"] is False


def test_the_intake_page_shows_the_missing_documents_in_russian_next_to_the_checklist(tmp_path):
    api = Api(tmp_path)
    case_id = api.start("2.6")["id"]
    [task] = api.open_tasks(case_id)
    sign_in_client(api, "clerk")
    url = f"/cases/{case_id}/tasks/{task['id']}"
    page = api.client.get(url)
    assert "Документы, которые представляет гражданин" in page.text
    form = {"f_child_birth_date": "2025-06-01", "f_child_order": "1", "f_born_in_belarus": "no",
            "f_family_status": "parent", "f_married": "no", "f_single_parent": "no",
            "f_place_to_be_determined": "no", "f_household_certificate_brought": "no"}
    counts = _counts(api.db)
    sent = post_form(api, url, url, form, follow_redirects=False)
    assert sent.status_code == 409, sent.text
    for doc in ("application", "passport", "foreign_birth_certificate"):
        row = re.search(rf'<tr id="doc-{doc}" class="invalid">(.*?)</tr>', sent.text, re.S)
        assert row and "Не отмечен как представленный гражданином." in row.group(1), doc
    assert 'id="doc-birth_record_certificate" class="invalid"' not in sent.text
    assert "Исправьте 3 ошибки" in sent.text and 'href="#doc-passport"' in sent.text
    assert 'value="2025-06-01"' in sent.text  # what was typed comes back
    assert _counts(api.db) == counts
    api.present_documents(case_id, "2.6")
    done = post_form(api, url, url, form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case_id}?done=intake"

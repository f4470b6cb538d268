"""Cases obey their definition: date bounds, every form error at once (okno issue 13, part 4)."""
from __future__ import annotations

import re
from datetime import date

import pytest

from engine.definition.date_bound import bound_problem, resolve
from engine.errors import InvalidForm
from tests.casework import Engine, catalog, sample_form
from tests.test_api_support import Api, task_data

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db")  # the clock stands at 2025-06-18


# ------------------------------------------------------------------------------ date bounds

@pytest.mark.parametrize(("text", "expected"), [
    ("2024-02-29", date(2024, 2, 29)), ("today", date(2025, 6, 18)),
    ("today - 150 years", date(1875, 6, 18)), ("today + 1 year", date(2026, 6, 18)),
    ("today+10 days", date(2025, 6, 28)), ("today - 4 months", date(2025, 2, 18))])
def test_date_bounds_resolve_on_the_given_day(text, expected):
    assert bound_problem(text) is None
    assert resolve(text, date(2025, 6, 18)) == expected


def test_a_month_bound_keeps_to_the_month_end():
    assert resolve("today - 1 month", date(2025, 3, 31)) == date(2025, 2, 28)
    assert resolve("today + 1 year", date(2024, 2, 29)) == date(2025, 2, 28)


@pytest.mark.parametrize("text", ["yesterday", "today - 1 week", "today - 5000 years",
                                  "today -- 1 day", "2025-13-01", 5])
def test_date_bounds_outside_the_grammar_are_named(text):
    assert bound_problem(text) is not None


def _birth_task(eng):
    case_id = eng.start("2.6")
    eng.present_documents(case_id)
    task = eng.open_tasks(case_id)[0]
    return case_id, task, sample_form(catalog()["2.6"].step("intake").fields)


@pytest.mark.parametrize(("born", "message"), [("2099-01-01", "не позже 18.06.2025"),
                                               ("1850-05-01", "не раньше 18.06.1875")])
def test_a_birth_date_outside_its_bounds_is_refused_and_nothing_changes(eng, born, message):
    case_id, task, data = _birth_task(eng)
    before = eng.case(case_id)
    with pytest.raises(InvalidForm) as exc:
        eng.cases.complete_task(case_id, task["id"], {**data, "child_birth_date": born},
                                actor="clerk-1")
    [err] = exc.value.errors
    assert err.field == "data.child_birth_date" and err.title == "Дата рождения ребенка"
    assert message in err.message
    assert eng.case(case_id) == before
    assert eng.open_tasks(case_id)[0]["id"] == task["id"]


def test_a_birth_date_today_is_accepted(eng):
    case_id, task, data = _birth_task(eng)
    eng.cases.complete_task(case_id, task["id"], {**data, "child_birth_date": "2025-06-18"},
                            actor="clerk-1")
    assert task["id"] not in {t["id"] for t in eng.open_tasks(case_id)}


def test_relative_bounds_follow_the_injected_clock(eng):
    """A date refused as future on 18 June is accepted once the clock has passed it."""
    case_id, task, data = _birth_task(eng)
    with pytest.raises(InvalidForm):
        eng.cases.complete_task(case_id, task["id"], {**data, "child_birth_date": "2025-07-01"},
                                actor="clerk-1")
    eng.clock.advance(days=20)
    eng.cases.complete_task(case_id, task["id"], {**data, "child_birth_date": "2025-07-01"},
                            actor="clerk-1")
    assert task["id"] not in {t["id"] for t in eng.open_tasks(case_id)}


# ------------------------------------------------------------------- every form error at once

def test_eight_missing_fields_are_eight_russian_errors(eng):
    case_id, task, _ = _birth_task(eng)
    required = [f for f in catalog()["2.6"].step("intake").fields if f.required]
    assert len(required) == 8
    with pytest.raises(InvalidForm) as exc:
        eng.cases.complete_task(case_id, task["id"], {}, actor="clerk-1")
    assert [e.field for e in exc.value.errors] == [f"data.{f.id}" for f in required]
    assert all(CYRILLIC.search(e.message) for e in exc.value.errors)


def test_the_api_reports_all_eight_in_russian(tmp_path):
    api = Api(tmp_path)
    case = api.start("2.6")
    task = case["tasks"][0]
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete", json={"data": {}})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    required = [f.id for f in catalog()["2.6"].step("intake").fields if f.required]
    assert [e["field"] for e in errors] == [f"data.{f}" for f in required]
    assert all(CYRILLIC.search(e["detail"] if "detail" in e else e["message"]) for e in errors)
    data = {**task_data(catalog()["2.6"], task), "child_birth_date": "2099-01-01"}
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 422
    [err] = r.json()["errors"]
    assert err["field"] == "data.child_birth_date"
    assert api.get(f"/api/cases/{case['id']}").json()["tasks"][0]["id"] == task["id"]


# ------------------------------------------------------------- the decision waits for documents

def _to_decision(eng, number="6.1.1"):
    """A case on `number` with `archive_record` requested, run up to its decision task."""
    case_id = eng.start(number)
    eng.present_documents(case_id)
    eng.cases.record_document(case_id, "archive_record", "requested", actor="clerk-1")
    proc = eng.versions.get(eng.case(case_id)["version"])
    for _ in range(10):
        task = eng.open_tasks(case_id)[0]
        if task["kind"] == "decision":
            return case_id, task, proc
        eng.cases.complete_task(case_id, task["id"], sample_form(proc.step(task["step"]).fields),
                                actor="clerk-1")
    raise AssertionError("no decision task")


def test_an_approval_waits_for_the_requested_documents(eng):
    from engine.errors import DocumentsOutstanding

    case_id, task, _ = _to_decision(eng)
    before = eng.case(case_id)
    with pytest.raises(DocumentsOutstanding) as exc:
        eng.cases.decide(case_id, "approve", actor="clerk-1")
    assert [e.field for e in exc.value.errors] == ["documents.archive_record"]
    assert CYRILLIC.search(exc.value.errors[0].message)
    assert eng.case(case_id) == before
    eng.cases.record_document(case_id, "archive_record", "received", actor="clerk-1")
    eng.cases.decide(case_id, "approve", actor="clerk-1")
    assert eng.case(case_id)["outcome"] == "approved"


def test_a_refusal_does_not_wait(eng):
    case_id, _, proc = _to_decision(eng)
    eng.cases.decide(case_id, "refuse", ground=proc.refusal_grounds[0].id, actor="clerk-1")
    assert eng.case(case_id)["outcome"] == "refused"


def test_a_decision_step_may_opt_out_of_waiting(tmp_path):
    from engine.definition.build import build_procedure

    data = catalog()["6.1.1"].definition
    for step in data["steps"]:
        if step["kind"] == "decision":
            step["waits_for_documents"] = False
    proc = build_procedure(data, "6.1.1.yaml")
    assert proc.step(next(s.id for s in proc.steps if s.kind == "decision")).waits_for_documents is False
    eng = Engine(tmp_path / "opt-out.db", procedures={"6.1.1": proc})
    case_id, _, _ = _to_decision(eng)
    eng.cases.decide(case_id, "approve", actor="clerk-1")
    assert eng.case(case_id)["outcome"] == "approved"


def test_the_api_answers_409_listing_the_outstanding_documents(tmp_path):
    api = Api(tmp_path)
    case = api.start("6.1.1")
    assert api.post(f"/api/cases/{case['id']}/documents/archive_record",
                    json={"status": "requested"}).status_code in (200, 204)
    api.advance(case["id"], "6.1.1", until_kind="decision")
    task = next(t for t in api.open_tasks(case["id"]) if t["kind"] == "decision")
    r = api.complete(case["id"], task, "6.1.1")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["documents.archive_record"]

"""Quality ratings (engine.ratings.grading, POST /api/cases/{id}/rating) on a real SQLite file:
the applicant of an ended case grades it once; nobody else, never twice, never before it ends."""
from __future__ import annotations

import pytest

from engine.store.tables import ratings
from tests.test_api_support import Api

GRADES = {"simplicity": 5, "information": 4, "term": 3, "politeness": 5}
NUMBER = "2.1"  # a short procedure of the shipped catalog


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def _withdrawn(api: Api, account: str = "ivan") -> str:
    """A case of `account` that has ended: withdrawn by its applicant."""
    case = api.start(NUMBER, account=account)
    r = api.post(f"/api/cases/{case['id']}/withdraw", account, {"reason": "передумал"})
    assert r.status_code == 200, r.text
    return case["id"]


def test_the_applicant_grades_an_ended_case_once(api):
    case_id = _withdrawn(api)
    r = api.post(f"/api/cases/{case_id}/rating", "ivan", {**GRADES, "comment": "  Спасибо!  "})
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in GRADES} == GRADES
    assert body["comment"] == "Спасибо!"
    assert (body["authority"], body["number"], body["type"]) == ("minsk-sovetsky", NUMBER,
                                                                  "procedure")
    again = api.post(f"/api/cases/{case_id}/rating", "ivan", {**GRADES, "term": 1})
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "case_id"
    assert api.count(ratings) == 1
    shown = api.get(f"/api/cases/{case_id}/rating", "ivan").json()
    assert shown["term"] == 3  # the first grade stands


def test_a_case_that_ran_to_its_decision_can_be_graded(api):
    case = api.start(NUMBER)
    assert api.advance(case["id"], NUMBER)["status"] == "completed"
    r = api.post(f"/api/cases/{case['id']}/rating", "ivan", GRADES)
    assert r.status_code == 201, r.text


def test_nobody_grades_a_case_that_is_not_theirs(api):
    case_id = _withdrawn(api)
    other = api.post(f"/api/cases/{case_id}/rating", "petr", GRADES)
    assert other.status_code == 404  # as for a case one may not see
    assert api.post(f"/api/cases/{case_id}/rating", "clerk", GRADES).status_code == 403
    assert api.post(f"/api/cases/{case_id}/rating", "auditor", GRADES).status_code == 403
    assert api.post(f"/api/cases/{case_id}/rating", None, GRADES).status_code == 401
    unlinked = api.start(NUMBER, account=None)  # registered without the applicant's account
    api.post(f"/api/cases/{unlinked['id']}/withdraw", "clerk", {})
    assert api.post(f"/api/cases/{unlinked['id']}/rating", "ivan", GRADES).status_code == 404
    assert api.count(ratings) == 0


def test_a_case_is_graded_only_after_it_ends(api):
    case = api.start(NUMBER)
    r = api.post(f"/api/cases/{case['id']}/rating", "ivan", GRADES)
    assert r.status_code == 409
    assert "ended" in r.json()["detail"]
    assert api.count(ratings) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({**GRADES, "term": 0}, "term"),
    ({**GRADES, "politeness": 6}, "politeness"),
    ({**GRADES, "simplicity": "5"}, "simplicity"),
    ({**GRADES, "information": 4.5}, "information"),
    ({**GRADES, "information": True}, "information"),
    ({k: v for k, v in GRADES.items() if k != "term"}, "term"),
    ({**GRADES, "speed": 5}, "speed"),
    ({**GRADES, "comment": "x" * 2001}, "comment"),
    ({**GRADES, "comment": "Иванов\u202eвонавИ"}, "comment"),
])
def test_bad_grades_are_refused_naming_the_field_and_change_nothing(api, body, field):
    case_id = _withdrawn(api)
    r = api.post(f"/api/cases/{case_id}/rating", "ivan", body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field
    assert api.count(ratings) == 0


def test_a_rating_is_shown_to_whoever_may_see_the_case(api):
    case_id = _withdrawn(api)
    assert api.get(f"/api/cases/{case_id}/rating", "ivan").status_code == 404  # none yet
    api.post(f"/api/cases/{case_id}/rating", "ivan", GRADES)
    assert api.get(f"/api/cases/{case_id}/rating", "clerk").json()["case_id"] == case_id
    assert api.get(f"/api/cases/{case_id}/rating", "auditor").status_code == 200
    assert api.get(f"/api/cases/{case_id}/rating", "clerk_b").status_code == 404
    assert api.get(f"/api/cases/{case_id}/rating", "petr").status_code == 404

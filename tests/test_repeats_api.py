"""Repeated appeals, termination of correspondence and public answers over the API
(api/routes/repeats.py, api/routes/public_answers.py)."""
from __future__ import annotations

import pytest

from engine.store.tables import correspondence_terminations, public_answers
from tests.appeal_fixture import STAND_IN_PROCEDURE, answer, make_appeal
from tests.test_api_support import Api
from tests.test_repeats import PLAYGROUND, ROOF, ROOF_AGAIN


@pytest.fixture
def api(tmp_path):
    return Api(tmp_path)


def appeal(api: Api, question: str, account: str = "ivan", user: str = "clerk") -> str:
    case = api.start(STAND_IN_PROCEDURE, user=user, applicant=account, account=account)
    return make_appeal(api.db, case["id"], question=question)


def test_the_clerk_sees_the_repeat_with_a_link_and_a_supervisor_terminates_correspondence(api):
    first = appeal(api, ROOF)
    answer(api.db, first, at=api.clock.now())
    api.clock.advance(days=1)
    again, other = appeal(api, ROOF_AGAIN), appeal(api, PLAYGROUND)
    flag = api.get(f"/api/cases/{again}/repeats").json()
    assert flag["repeated"] is True and flag["termination"] is None
    assert [(e["case_id"], e["href"]) for e in flag["earlier"]] == [(first, f"/api/cases/{first}")]
    assert api.get(f"/api/cases/{other}/repeats").json()["repeated"] is False
    # who may see and decide
    assert api.get(f"/api/cases/{again}/repeats", "clerk_b").status_code == 404
    assert api.get(f"/api/cases/{again}/repeats", "ivan").status_code == 403
    assert api.get(f"/api/cases/{again}/repeats", "auditor").status_code == 200
    body = {"ground": "Повторные обращения без новых доводов"}
    assert api.post(f"/api/cases/{again}/terminate-correspondence", "clerk", body).status_code == 403
    assert api.post(f"/api/cases/{other}/terminate-correspondence", "supervisor", body).status_code == 409
    assert api.post(f"/api/cases/{again}/terminate-correspondence", "supervisor",
                    {"ground": "  "}).json()["field"] == "ground"
    assert api.count(correspondence_terminations) == 0
    done = api.post(f"/api/cases/{again}/terminate-correspondence", "supervisor", body)
    assert done.status_code == 201, done.text
    assert done.json()["leave_ground"] == "correspondence_terminated"
    api.clock.advance(days=1)
    later = appeal(api, ROOF)
    shown = api.get(f"/api/cases/{later}/repeats").json()["termination"]
    assert shown["id"] == done.json()["id"] and shown["ground"] == body["ground"]


def test_a_supervisor_answers_eleven_identical_appeals_publicly(api):
    group = [appeal(api, "Когда восстановят освещение на ул. Садовой?", account=a)
             for a in ("ivan", "petr") for _ in range(5)]
    seed = appeal(api, "когда восстановят освещение на улице Садовой")
    body = {"case_id": seed, "title": "Освещение на ул. Садовой", "answer": "До 1 декабря."}
    assert api.post("/api/public-answers", "clerk", body).status_code == 403
    assert api.post("/api/public-answers", "supervisor", {**body, "case_id": "nope"}).status_code == 404
    r = api.post("/api/public-answers", "supervisor", body)
    assert r.status_code == 201, r.text
    assert r.json()["appeals"] == 11
    listed = api.get("/api/public-answers", None)  # no sign-in
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert set(item) == {"id", "authority", "topic", "title", "answer", "appeals", "published_at"}
    assert "ivan" not in listed.text and "Садовой?" not in listed.text
    assert api.get("/api/public-answers?authority=minsk-frunzensky", None).json()["total"] == 0
    assert api.get(f"/api/cases/{group[0]}/repeats").json()["public_answer"]["id"] == item["id"]
    one_more = appeal(api, "Прошу построить новую школу.")
    assert api.post("/api/public-answers", "supervisor",
                    {**body, "case_id": one_more}).status_code == 409
    assert api.count(public_answers) == 1

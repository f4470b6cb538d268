"""The applicant's cabinet over the API (api/routes/signup.py, api/routes/cabinet.py,
engine/read/cabinet.py): sign up, list and read one's own appeals and cases, withdraw; nobody sees
another's."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from api.auth import SignUpLimiter
from engine.store.tables import applicant_profiles, notices, users
from tests.appeal_fixture import STAND_IN_PROCEDURE, answer, make_appeal
from tests.test_api_support import Api, Ticker


@pytest.fixture
def api(tmp_path):
    return Api(tmp_path)


def appeal_of(api: Api, account: str, question: str = "Прошу отремонтировать крышу дома 5.") -> str:
    case = api.start(STAND_IN_PROCEDURE, applicant=account, account=account)
    return make_appeal(api.db, case["id"], question=question, email=f"{account}@example.by")


def notice(api: Api, case_id: str, title: str, body: str) -> str:
    """A stored notice, as CORE's commands store them (stand-in)."""
    nid = str(uuid.uuid4())
    with api.db.begin() as conn:
        conn.execute(insert(notices).values(id=nid, case_id=case_id, kind="reply", title=title,
                                            body=body, recipient=None,
                                            created_at=datetime(2025, 6, 20, tzinfo=UTC)))
    return nid


# ------------------------------------------------------------------------------------ sign-up

def test_sign_up_makes_an_applicant_of_citizens_who_can_sign_in(api):
    r = api.post("/api/signup", None, {"name": "olga.k", "password": "долгий пароль",
                                       "email": "olga@example.by"})
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "olga.k", "role": "applicant", "org": "citizens",
                        "email": "olga@example.by"}
    with api.db.connect() as conn:
        assert conn.execute(select(applicant_profiles.c.email)
                            .where(applicant_profiles.c.name == "olga.k")).scalar_one() == "olga@example.by"
    token = api.sign_in_form("olga.k", "долгий пароль")
    assert token.status_code == 200
    me = api.client.get("/api/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json() == {"name": "olga.k", "role": "applicant", "org": "citizens"}
    no_mail = api.post("/api/signup", None, {"name": "anna", "password": "12345678"})
    assert no_mail.status_code == 201 and no_mail.json()["email"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "ab", "password": "12345678"}, "name"),
    ({"name": "with space", "password": "12345678"}, "name"),
    ({"name": "olga", "password": "short"}, "password"),
    ({"name": "olga", "password": "12345678", "email": "not-an-address"}, "email"),
    ({"name": "olga", "password": "12345678", "role": "clerk"}, "role"),
])
def test_bad_sign_ups_name_the_field_and_change_nothing(api, body, field):
    before = api.count(users)
    r = api.post("/api/signup", None, body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"].endswith(field)
    assert api.count(users) == before


def test_a_taken_name_is_a_conflict(api):
    r = api.post("/api/signup", None, {"name": "ivan", "password": "12345678"})
    assert r.status_code == 409 and r.json()["field"] == "name"


def test_sign_ups_are_throttled_per_address(api):
    ticker = Ticker()
    api.app.state.signup_limiter = SignUpLimiter(attempts=2, window=3600, clock=ticker)
    for i in range(2):
        assert api.post("/api/signup", None, {"name": f"user{i}", "password": "12345678"}).status_code == 201
    refused = api.post("/api/signup", None, {"name": "user9", "password": "12345678"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 3600
    before = api.count(users)
    ticker.t += 3600
    assert api.post("/api/signup", None, {"name": "user9", "password": "12345678"}).status_code == 201
    assert api.count(users) == before + 1


# ------------------------------------------------------------------------------------ cabinet

def test_an_applicant_lists_own_appeals_and_cases_with_status_number_and_due_date(api):
    mine = appeal_of(api, "ivan")
    procedure = api.start("2.2", applicant="ivan", account="ivan")["id"]
    theirs = appeal_of(api, "petr")
    r = api.get("/api/me/cases", "ivan")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 2 and {c["id"] for c in page["items"]} == {mine, procedure}
    by_id = {c["id"]: c for c in page["items"]}
    assert by_id[mine]["type"] == "appeal" and by_id[mine]["reg_number"].startswith("test-")
    assert by_id[procedure]["type"] == "procedure"
    assert all(c["status"] == "open" and c["due_date"] and c["withdrawable"] for c in page["items"])
    only = api.get("/api/me/cases?type=appeal", "ivan").json()
    assert [c["id"] for c in only["items"]] == [mine]
    assert [c["id"] for c in api.get("/api/me/cases", "petr").json()["items"]] == [theirs]


def test_an_applicant_reads_the_reply_and_notices_of_own_appeal_only(api):
    mine = appeal_of(api, "ivan", "Когда отремонтируют дорогу?")
    nid = notice(api, mine, "Ответ на обращение", "Дорогу отремонтируют в мае.")
    answer(api.db, mine, at=datetime(2025, 6, 20, tzinfo=UTC))
    r = api.get(f"/api/me/cases/{mine}", "ivan")
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["question"] == "Когда отремонтируют дорогу?"
    assert case["outcome"] == "explained" and case["withdrawable"] is False
    assert case["notices"] == [{"id": nid, "kind": "reply", "title": "Ответ на обращение",
                                "body": "Дорогу отремонтируют в мае.",
                                "created_at": "2025-06-20T00:00:00Z", "due_by": None,
                                "href": f"/cases/{mine}/notices/{nid}"}]
    # another applicant, and staff through the cabinet routes
    assert api.get(f"/api/me/cases/{mine}", "petr").status_code == 404
    assert api.get(f"/api/me/cases/{mine}", "petr").json()["field"] == "case_id"
    assert api.get("/api/me/cases", "clerk").status_code == 403
    assert api.get("/api/me/cases").status_code == 403
    assert api.get("/api/me/cases", None).status_code == 401


def test_an_applicant_withdraws_own_case_and_not_another(api):
    mine = api.start("2.2", applicant="ivan", account="ivan")["id"]
    theirs = api.start("2.2", applicant="petr", account="petr")["id"]
    assert api.post(f"/api/cases/{theirs}/withdraw", "ivan", {}).status_code == 404
    r = api.post(f"/api/cases/{mine}/withdraw", "ivan", {"reason": "передумал"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    listed = api.get("/api/me/cases", "ivan").json()["items"][0]
    assert listed["status"] == "withdrawn" and listed["withdrawable"] is False
    assert api.get(f"/api/me/cases/{theirs}", "petr").json()["status"] == "open"


def test_the_sign_up_limit_counts_an_ipv6_clients_64_and_forgets_old_attempts():
    ticker = Ticker()
    limiter = SignUpLimiter(attempts=2, window=60, clock=ticker, capacity=2)
    limiter.attempt("2001:db8:1:2::1")
    limiter.attempt("2001:db8:1:2::ffff")  # the same /64
    with pytest.raises(Exception) as refused:
        limiter.attempt("2001:db8:1:2::abcd")
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "60"
    limiter.attempt("2001:db8:1:3::1")  # another /64
    limiter.attempt("192.0.2.7")  # capacity 2: the oldest address is dropped
    limiter.attempt("2001:db8:1:2::1")
    ticker.t += 61
    limiter.attempt("192.0.2.7")
    limiter.attempt("192.0.2.7")

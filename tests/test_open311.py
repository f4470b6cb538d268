"""Open311 GeoReport v2 (api/routes/open311.py) over a real SQLite file: the error format, the
api_key, services from the appeal definitions, posting a request through the same use case as
POST /api/cases, and reading requests with the caller's visibility.

The tests that need an appeal definition (`type: appeal`, CORE's part of issue 15) skip with a
reason until it is in the catalog; reading requests uses a local fixture of appeal rows
(tests.test_reports._appeal) meanwhile."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.store.tables import cases
from tests.test_api_support import Api, catalog
from tests.test_reports import _appeal

BASE = "/open311/v2"


def _appeal_number() -> str | None:
    return next((p.number for p in catalog().values()
                 if getattr(p, "type", "procedure") == "appeal"), None)


needs_appeals = pytest.mark.skipif(_appeal_number() is None,
                                   reason="no appeal definition in the catalog yet (CORE)")


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    """Appeals (local fixture rows): ivan's two at minsk-sovetsky (one answered, one open), one
    of petr's at minsk-frunzensky, all registered in June 2025 (the clock: 2025-06-18)."""
    api = Api(tmp_path_factory.mktemp("open311"))
    first = api.start("2.1")
    with api.db.connect() as conn:
        template = dict(conn.execute(select(cases).where(cases.c.id == first["id"])).one()._mapping)
    api.answered = _appeal(api, {**template, "applicant_user": "ivan"}, start="2025-06-02",
                           channel="electronic", outcome="satisfied", closed="2025-06-10 09:00")
    api.waiting = _appeal(api, {**template, "applicant_user": "ivan"}, start="2025-06-16",
                          channel="electronic", status="open", outcome=None, topic="transport")
    api.petrs = _appeal(api, {**template, "applicant_user": "petr"}, start="2025-06-05",
                        authority="minsk-frunzensky", status="open", outcome=None)
    return api


def _error(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and body[0]["code"] == status, body
    return body[0]["description"]


def test_errors_come_in_open311_s_format(api):
    assert "JSON only" in _error(api.client.get(f"{BASE}/services.xml"), 400)
    assert "no such Open311 method" in _error(api.client.get(f"{BASE}/discovery.json"), 404)
    assert "service_code" in _error(api.client.get(f"{BASE}/services/nothing.json"), 404)
    assert "api_key" in _error(api.client.get(f"{BASE}/requests.json"), 401)
    assert "api_key" in _error(api.client.get(f"{BASE}/requests.json",
                                              params={"api_key": "not-a-token"}), 401)
    assert "api_key" in _error(api.client.post(f"{BASE}/requests.json", data={}), 401)


def test_requests_are_the_caller_s_appeals_newest_first(api):
    mine = api.client.get(f"{BASE}/requests.json", params={"api_key": api.tokens["ivan"]}).json()
    assert [r["service_request_id"] for r in mine] == [api.waiting, api.answered]
    waiting, answered = mine
    assert (waiting["status"], answered["status"]) == ("open", "closed")
    assert answered["status_notes"] == "Удовлетворено"
    assert waiting["agency_responsible"] == "Администрация Советского района г. Минска"
    assert waiting["service_code"] == "appeal.transport"
    assert waiting["requested_datetime"] == "2025-06-16T09:00:00+03:00"
    assert waiting["expected_datetime"] == "2025-07-01T23:59:59+03:00"  # due 15 days later
    assert answered["updated_datetime"] == "2025-06-10T12:00:00+03:00"
    staff = api.client.get(f"{BASE}/requests.json", headers=api.h("clerk_b")).json()
    assert [r["service_request_id"] for r in staff] == [api.petrs]
    everyone = api.client.get(f"{BASE}/requests.json", params={"api_key": api.tokens["auditor"]})
    assert len(everyone.json()) == 3


def test_requests_filter_by_status_ids_service_and_dates(api):
    key = {"api_key": api.tokens["auditor"]}

    def ids(**params):
        r = api.client.get(f"{BASE}/requests.json", params={**key, **params})
        assert r.status_code == 200, r.text
        return {x["service_request_id"] for x in r.json()}

    assert ids(status="closed") == {api.answered}
    assert ids(status="open") == {api.waiting, api.petrs}
    assert ids(service_request_id=f"{api.petrs},{api.answered}") == {api.petrs, api.answered}
    assert ids(service_code="appeal.transport") == {api.waiting}
    assert ids(start_date="2025-06-04T00:00:00Z", end_date="2025-06-10T00:00:00Z") == {api.petrs}
    assert ids(jurisdiction_id="minsk-frunzensky") == {api.petrs}
    assert ids(limit="1") == {api.waiting}
    assert "status" in _error(api.client.get(f"{BASE}/requests.json",
                                             params={**key, "status": "pending"}), 400)
    assert "limit" in _error(api.client.get(f"{BASE}/requests.json",
                                            params={**key, "limit": "5000"}), 400)
    assert "start_date" in _error(api.client.get(f"{BASE}/requests.json",
                                                 params={**key, "start_date": "yesterday"}), 400)


def test_one_request_is_found_only_by_whoever_may_see_it(api):
    r = api.client.get(f"{BASE}/requests/{api.answered}.json", params={"api_key": api.tokens["ivan"]})
    assert [x["service_request_id"] for x in r.json()] == [api.answered]
    other = api.client.get(f"{BASE}/requests/{api.petrs}.json",
                           params={"api_key": api.tokens["ivan"]})
    assert "does not exist" in _error(other, 404)
    assert _error(api.client.get(f"{BASE}/requests/{api.petrs}.json", headers=api.h("clerk")),
                  404)


def test_staff_post_no_requests(api):
    r = api.client.post(f"{BASE}/requests.json", data={"api_key": api.tokens["clerk"],
                                                       "service_code": "appeal.housing"})
    assert "applicant" in _error(r, 403)


# ------------------------------------------------------------------------------------ with CORE

@needs_appeals
def test_services_are_the_topics_of_the_appeal_definitions(api):
    number = _appeal_number()
    services = api.client.get(f"{BASE}/services.json").json()
    proc = catalog()[number]
    assert [s["service_code"] for s in services] == [f"{number}.{t.id}" for t in proc.topics]
    first = services[0]
    assert (first["service_name"], first["type"], first["metadata"]) == (
        proc.topics[0].title, "realtime", True)
    definition = api.client.get(f"{BASE}/services/{first['service_code']}.json").json()
    kind = definition["attributes"][0]
    assert (kind["code"], kind["required"], kind["datatype"]) == ("kind", True, "singlevaluelist")
    assert [v["key"] for v in kind["values"]] == [k.id for k in proc.kinds]


@needs_appeals
def test_a_posted_request_is_an_electronic_appeal_of_the_applicant(api):
    number = _appeal_number()
    proc = catalog()[number]
    form = {"api_key": api.tokens["ivan"], "jurisdiction_id": "minsk-sovetsky",
            "service_code": f"{number}.{proc.topics[0].id}", "attribute[kind]": "complaint",
            "description": "Во дворе дома 5 не вывозят мусор вторую неделю.",
            "email": "ivan@example.by", "first_name": "Иван", "last_name": "Иванов"}
    before = api.count(cases)
    r = api.client.post(f"{BASE}/requests.json", data=form)
    assert r.status_code == 201, r.text
    [answer] = r.json()
    case_id = answer["service_request_id"]
    with api.db.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.id == case_id)).one()
    assert (row.type, row.channel, row.applicant_user, row.authority, row.kind) == (
        "appeal", "electronic", "ivan", "minsk-sovetsky", "complaint")
    assert row.applicant == "Иванов Иван"
    assert row.reg_number and row.reg_number in answer["service_notice"]
    assert api.count(cases) == before + 1
    [shown] = api.client.get(f"{BASE}/requests/{case_id}.json",
                             params={"api_key": api.tokens["ivan"]}).json()
    assert (shown["status"], shown["description"]) == ("open", form["description"])
    assert shown["expected_datetime"].startswith(str(row.due_date))


@needs_appeals
@pytest.mark.parametrize(("change", "word"), [
    ({"attribute[kind]": "praise"}, "attribute[kind]"),
    ({"description": ""}, "description"),
    ({"jurisdiction_id": "nowhere"}, "jurisdiction_id"),
    ({"service_code": "appeal.nothing"}, "service_code"),
    ({"description": "x\u202ey"}, "description"),
])
def test_a_bad_request_is_refused_and_registers_nothing(api, change, word):
    number = _appeal_number()
    proc = catalog()[number]
    form = {"api_key": api.tokens["ivan"], "jurisdiction_id": "minsk-sovetsky",
            "service_code": f"{number}.{proc.topics[0].id}", "attribute[kind]": "statement",
            "description": "Прошу отремонтировать освещение во дворе.", **change}
    before = api.count(cases)
    r = api.client.post(f"{BASE}/requests.json", data=form)
    assert word in _error(r, 404 if word == "service_code" else 400)
    assert api.count(cases) == before

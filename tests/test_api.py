"""The HTTP API: sign-in, problem+json errors, idempotency, the §2.2 refusal, applicants,
the document checklist, lists and filters, the catalog routes."""
from __future__ import annotations

import time

import jwt
import pytest

from api.auth import ALGORITHM, ISSUER, issue_token, load_secret
from engine.accounts import add_user
from engine.runtime.scheduler import mark_overdue
from engine.settings import Settings
from engine.store.tables import cases, events
from tests.test_api_support import ORG_A, PASSWORD, SECRET, Api, catalog, pick, task_data


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def _problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert body["field"] == field, body
        assert any(e["field"] == field for e in body["errors"]), body
    return body


# ------------------------------------------------------------------------------------ sign-in

def test_password_flow_issues_a_working_token(api: Api) -> None:
    r = api.client.post("/api/auth/token", data={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    claims = jwt.decode(token["access_token"], SECRET, algorithms=[ALGORITHM], issuer=ISSUER)
    assert (claims["sub"], claims["role"], claims["org"]) == ("clerk", "clerk", ORG_A)
    me = api.client.get("/api/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json() == {"name": "clerk", "role": "clerk", "org": ORG_A}


@pytest.mark.parametrize(("user", "password"), [("clerk", "wrong"), ("nobody", PASSWORD),
                                                ("", "")])
def test_wrong_credentials_are_401_or_422(api: Api, user: str, password: str) -> None:
    r = api.client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code in (401, 422)
    _problem(r, r.status_code)


def test_expired_forged_and_missing_tokens_are_401(api: Api) -> None:
    now = int(time.time())
    expired = jwt.encode({"sub": "clerk", "role": "clerk", "org": ORG_A, "iss": ISSUER,
                          "iat": now - 7200, "exp": now - 3600}, SECRET, algorithm=ALGORITHM)
    forged = jwt.encode({"sub": "clerk", "role": "supervisor", "org": ORG_A, "iss": ISSUER,
                         "iat": now, "exp": now + 60}, "another-secret-" + "y" * 40,
                        algorithm=ALGORITHM)
    for headers in ({"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": "Basic Y2xlcms6Y2xlcms="}, {}):
        r = api.client.get("/api/me", headers=headers)
        _problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    assert "expired" in api.client.get("/api/me", headers={
        "Authorization": f"Bearer {expired}"}).json()["detail"]


def test_secret_file_is_created_once_and_shared(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OKNO_SECRET_KEY", raising=False)
    path = tmp_path / "var" / "secret.key"
    monkeypatch.setenv("OKNO_SECRET_FILE", str(path))
    first = load_secret(Settings())
    assert len(first) >= 32 and load_secret(Settings(secret_file=path)) == first
    assert path.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("OKNO_SECRET_KEY", "from-the-environment")
    assert load_secret(Settings()) == "from-the-environment"


# ------------------------------------------------------------------------------------ problems

def test_validation_errors_name_the_field(api: Api) -> None:
    _problem(api.post("/api/cases", json={"applicant": "ivan", "channel": "post"}), 422, "number")
    _problem(api.post("/api/cases", json={"number": "2.6", "applicant": "ivan",
                                          "channel": "fax"}), 422, "channel")
    _problem(api.post("/api/cases", json={"number": "2.6", "applicant": "ivan",
                                          "channel": "post", "colour": "red"}), 422, "colour")
    _problem(api.get("/api/cases?limit=0"), 422, "query.limit")
    _problem(api.get("/api/cases?due_before=tomorrow"), 422, "query.due_before")
    _problem(api.post("/api/cases", content=b"{not json", headers={
        "Content-Type": "application/json"}), 422)


def test_engine_errors_are_problems(api: Api) -> None:
    _problem(api.post("/api/cases", json={"number": "99.99", "applicant": "ivan",
                                          "channel": "post"}), 404, "number")
    _problem(api.get("/api/cases/no-such-case"), 404, "case_id")
    _problem(api.get("/api/procedures/99.99"), 404, "number")
    _problem(api.get("/api/nowhere"), 404)
    _problem(api.client.delete("/api/cases"), 405)


def test_bad_form_data_is_422_and_changes_nothing(api: Api) -> None:
    proc = pick(lambda p: any(f.required for s in p.steps[:1] for f in s.fields))
    case = api.start(proc.number)
    task = case["tasks"][0]
    required = next(f for f in proc.steps[0].fields if f.required)
    data = task_data(proc, task)
    before = (api.count(events), api.get(f"/api/cases/{case['id']}").json()["row_version"])
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    _problem(api.post(url, json={"data": {**data, required.id: None}}), 422, f"data.{required.id}")
    _problem(api.post(url, json={"data": {**data, "no_such_field": 1}}), 422, "data.no_such_field")
    _problem(api.post(url, json={"data": {**data, "x": 2**70}}), 422)
    _problem(api.post(url, json={"data": "not an object"}), 422, "data")
    after = (api.count(events), api.get(f"/api/cases/{case['id']}").json()["row_version"])
    assert before == after


def test_stale_expected_version_is_a_conflict(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    api.present_documents(case["id"], number)
    version = api.get(f"/api/cases/{case['id']}").json()["row_version"]
    task = case["tasks"][0]
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    body = {"data": task_data(catalog()[number], task), "expected_version": version + 5}
    _problem(api.post(url, json=body), 409)
    body["expected_version"] = version
    assert api.post(url, json=body).status_code == 200


def test_commands_that_do_not_fit_the_state_are_409(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    _problem(api.post(f"/api/cases/{case['id']}/resume"), 409)
    _problem(api.post(f"/api/cases/{case['id']}/close"), 409)
    assert api.post(f"/api/cases/{case['id']}/withdraw", json={"reason": "x"}).json()["status"] \
        == "withdrawn"
    _problem(api.post(f"/api/cases/{case['id']}/withdraw"), 409)
    _problem(api.post(f"/api/cases/{case['id']}/refuse-acceptance",
                      json={"ground": "documents_missing"}), 409)


def test_refuse_acceptance_needs_a_known_ground(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    _problem(api.post(f"/api/cases/{case['id']}/refuse-acceptance", json={"ground": "whim"}),
             422, "ground")
    r = api.post(f"/api/cases/{case['id']}/refuse-acceptance", json={"ground": "documents_missing"})
    assert (r.json()["status"], r.json()["ground"]) == ("not_accepted", "documents_missing")


def test_refusal_decision_names_its_ground(api: Api) -> None:
    proc = pick(lambda p: any(s.kind == "decision" for s in p.steps))
    case = api.start(proc.number)
    api.advance(case["id"], proc.number, until_kind="decision")
    _problem(api.post(f"/api/cases/{case['id']}/decide", "supervisor", {"outcome": "refuse"}),
             422, "ground")
    r = api.post(f"/api/cases/{case['id']}/decide", "supervisor",
                 {"outcome": "refuse", "ground": "no_legal_basis"})
    assert r.status_code == 200, r.text
    view = api.get(f"/api/cases/{case['id']}").json()
    assert (view["outcome"], view["ground"]) == ("refused", "no_legal_basis")


# ------------------------------------------------------------------------------------ §2.2

def test_unlisted_document_is_refused_citing_directive_2(api: Api) -> None:
    proc = pick(lambda p: p.documents)
    case = api.start(proc.number)
    before = api.count(events)
    r = api.post(f"/api/cases/{case['id']}/documents/military_id", json={"status": "presented"})
    body = _problem(r, 409, "document")
    assert "Directive No. 2, §2.2" in body["detail"]
    assert api.count(events) == before
    listed = proc.documents[0].id
    assert api.post(f"/api/cases/{case['id']}/documents/{listed}",
                    json={"status": "presented"}).status_code == 200
    checklist = {d["id"]: d for d in api.get(f"/api/cases/{case['id']}").json()["documents"]}
    assert checklist[listed]["status"] == "presented"
    # a document the citizen presents cannot be "requested" from another body
    _problem(api.post(f"/api/cases/{case['id']}/documents/{listed}",
                      json={"status": "requested"}), 409, "document")
    _problem(api.post(f"/api/cases/{case['id']}/documents/{listed}", json={"status": "lost"}),
             422, "status")


def test_requesting_a_document_extends_the_term(api: Api) -> None:
    proc = pick(lambda p: p.requested_documents and p.term.when_documents_requested)
    case = api.start(proc.number)
    doc = proc.requested_documents[0].id
    r = api.post(f"/api/cases/{case['id']}/documents/{doc}", json={"status": "requested"})
    assert r.status_code == 200, r.text
    assert r.json()["due_date"] > case["due_date"]


def test_a_free_request_extends_the_term(api: Api) -> None:
    case = api.start("2.5")
    r = api.post(f"/api/cases/{case['id']}/information",
                 json={"body": "ФСЗН", "asked": "сведения о стаже"})
    assert r.status_code == 200, r.text
    assert r.json()["due_date"] > case["due_date"]
    before = api.count(events)
    _problem(api.post(f"/api/cases/{case['id']}/information", json={"body": "ФСЗН", "asked": ""}),
             422, "asked")
    assert api.count(events) == before


# ------------------------------------------------------------------------------------ checklist

def test_checklist_follows_conditions_over_collected_data() -> None:
    import tempfile
    from pathlib import Path

    api = Api(Path(tempfile.mkdtemp()))
    proc = catalog().get("2.6")
    if proc is None:
        pytest.skip("procedure 2.6 is not in the catalog")
    case = api.start("2.6")
    docs = {d["id"]: d for d in case["documents"]}
    assert docs["application"]["needed"] == "yes"
    assert docs["birth_record_certificate"]["needed"] == "maybe"  # not asked yet
    assert docs["foreign_birth_certificate"]["needed"] == "maybe"
    task = case["tasks"][0]
    data = {**task_data(proc, task), "born_in_belarus": True, "married": False,
            "child_order": 1, "family_status": "parent"}
    for doc in ("application", "passport", "birth_record_certificate"):  # what intake needs here
        assert api.post(f"/api/cases/{case['id']}/documents/{doc}",
                        json={"status": "presented"}).status_code == 200
    assert api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete",
                    json={"data": data}).status_code == 200
    view = api.get(f"/api/cases/{case['id']}").json()
    docs = {d["id"]: d for d in view["documents"]}
    assert docs["birth_record_certificate"]["needed"] == "yes"
    assert "foreign_birth_certificate" not in docs
    assert "marriage_certificate" not in docs and "other_children_certificates" not in docs
    assert "other_parent_not_paid" not in docs  # requested only when married
    assert docs["household_certificate"]["kind"] == "requested"
    assert view["data"]["born_in_belarus"] is True


# ------------------------------------------------------------------------------------ idempotency

def _create_body(number: str) -> dict:
    proc = catalog()[number]
    body = {"number": number, "applicant": "ivan", "channel": proc.channels[0]}
    if proc.fee.kind == "by_category":
        body["category"] = proc.fee.categories[0].id
    return body


def test_idempotent_case_creation(api: Api) -> None:
    body = _create_body(next(iter(catalog())))
    key = {"Idempotency-Key": "create-1"}
    first = api.post("/api/cases", json=body, headers=key)
    again = api.post("/api/cases", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert api.count(cases) == 1
    _problem(api.post("/api/cases", json={**body, "applicant": "petr"}, headers=key), 422,
             "header.Idempotency-Key")
    # keys belong to their user: the supervisor's "create-1" is a new request
    other = api.post("/api/cases", "supervisor", body, headers=key)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert api.count(cases) == 2
    _problem(api.post("/api/cases", json=body, headers={"Idempotency-Key": ""}), 422)


def test_idempotent_task_completion(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    api.present_documents(case["id"], number)
    task = case["tasks"][0]
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    body = {"data": task_data(catalog()[number], task)}
    key = {"Idempotency-Key": "done-1"}
    first = api.post(url, json=body, headers=key)
    n_events = api.count(events)
    again = api.post(url, json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and api.count(events) == n_events
    without_key = api.post(url, json=body)
    _problem(without_key, 409)  # the task is done: acting twice is refused


def test_failed_command_releases_its_key(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    api.present_documents(case["id"], number)
    version = api.get(f"/api/cases/{case['id']}").json()["row_version"]
    task = case["tasks"][0]
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    key = {"Idempotency-Key": "retry-me"}
    body = {"data": task_data(catalog()[number], task), "expected_version": 99}
    _problem(api.post(url, json=body, headers=key), 409)
    _problem(api.post(url, json=body, headers=key), 409)  # re-run, not a replay
    assert api.post(url, json={**body, "expected_version": version},
                    headers={"Idempotency-Key": "retry-me-2"}).status_code == 200


# ------------------------------------------------------------------------------------ applicants

def test_applicant_files_tracks_and_withdraws_their_own_case(api: Api) -> None:
    proc = pick(lambda p: "portal" in p.channels)
    if proc is None:
        pytest.skip("no procedure in the catalog is offered through the portal")
    body = {"number": proc.number, "authority": ORG_A}
    if proc.fee.kind == "by_category":
        body["category"] = proc.fee.categories[0].id
    _problem(api.post("/api/cases", "ivan", {**body, "authority": "nowhere"}), 422, "authority")
    _problem(api.post("/api/cases", "ivan", {**body, "channel": "post"}), 422, "channel")
    _problem(api.post("/api/cases", "ivan", {**body, "applicant": "petr"}), 403, "applicant")
    _problem(api.post("/api/cases", "ivan", {**body, "applicant_user": "petr"}), 403, "applicant_user")
    r = api.post("/api/cases", "ivan", body)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["applicant"], case["channel"], case["authority"]) == ("ivan", "portal", ORG_A)
    assert case["applicant_user"] == "ivan"
    assert api.get(f"/api/cases/{case['id']}", "clerk").status_code == 200
    _problem(api.get(f"/api/cases/{case['id']}", "petr"), 404)
    _problem(api.post(f"/api/cases/{case['id']}/withdraw", "petr"), 404)
    r = api.post(f"/api/cases/{case['id']}/withdraw", "ivan", {"reason": "no longer needed"})
    assert r.json()["status"] == "withdrawn"
    assert [c["id"] for c in api.get("/api/cases", "ivan").json()["items"]] == [case["id"]]


def test_an_applicant_sees_a_case_through_its_account_link_never_through_a_name(api: Api) -> None:
    number = next(iter(catalog()))
    # A clerk types the applicant's name, which happens to be ivan's login: no link, no sight.
    by_name = api.start(number, applicant="ivan", account=None)
    assert by_name["applicant_user"] is None
    _problem(api.get(f"/api/cases/{by_name['id']}", "ivan"), 404)
    _problem(api.post(f"/api/cases/{by_name['id']}/withdraw", "ivan"), 404)
    # The clerk links the case to ivan's account: ivan follows it, whatever name it carries.
    linked = api.start(number, applicant="Иванов Иван Иванович", account="ivan")
    assert api.get(f"/api/cases/{linked['id']}", "ivan").json()["applicant_user"] == "ivan"
    _problem(api.get(f"/api/cases/{linked['id']}", "petr"), 404)
    mine = api.get("/api/cases", "ivan").json()
    assert [c["id"] for c in mine["items"]] == [linked["id"]] and mine["total"] == 1
    assert api.get("/api/cases?applicant=ivan", "ivan").json()["total"] == 0  # the name filter
    # Only an applicant account can be linked; a refused request creates nothing.
    before = api.count(cases)
    body = _create_body(number)
    _problem(api.post("/api/cases", json={**body, "applicant_user": "clerk"}), 422, "applicant_user")
    _problem(api.post("/api/cases", json={**body, "applicant_user": "nobody"}), 422, "applicant_user")
    assert api.count(cases) == before


def test_staff_register_for_their_own_org_only(api: Api) -> None:
    body = _create_body(next(iter(catalog())))
    _problem(api.post("/api/cases", json={**body, "authority": "minsk-frunzensky"}), 403,
             "authority")
    r = api.post("/api/cases", json={**body, "authority": ORG_A})
    assert r.status_code == 201 and r.json()["authority"] == ORG_A
    # without an applicant the body is an applicant's own application, which staff may not file
    _problem(api.post("/api/cases", json={k: v for k, v in body.items() if k != "applicant"}),
             403, "applicant")


# ------------------------------------------------------------------------------------ lists

def test_case_list_filters_and_overdue(api: Api) -> None:
    numbers = list(catalog())[:3]
    made = [api.start(n) for n in numbers]
    page = api.get("/api/cases?limit=2").json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert {c["id"] for c in api.get(f"/api/cases?number={numbers[0]}").json()["items"]} == \
        {made[0]["id"]}
    assert api.get("/api/cases?status=completed").json()["total"] == 0
    assert api.get("/api/cases?overdue=true").json()["total"] == 0
    api.clock.advance(days=120)
    assert mark_overdue(api.services.cases) == 3
    assert api.get("/api/cases?overdue=true").json()["total"] == 3
    assert api.get("/api/tasks?overdue=true").json()["total"] == 3
    latest = max(c["due_date"] for c in made)
    assert api.get(f"/api/cases?due_before={latest}").json()["total"] < 3 or \
        len({c["due_date"] for c in made}) == 1
    assert api.get(f"/api/cases/{made[0]['id']}").json()["overdue"] is True


def test_worklist_filters(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    task = case["tasks"][0]
    items = api.get("/api/tasks").json()["items"]
    assert [t["id"] for t in items] == [task["id"]]
    assert items[0]["case_status"] == "open" and items[0]["number"] == number
    assert api.get("/api/tasks?mine=true").json()["total"] == 0
    api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/claim")
    assert api.get("/api/tasks?mine=true").json()["items"][0]["assignee"] == "clerk"
    assert api.get(f"/api/tasks?role={task['role']}").json()["total"] == 1
    assert api.get("/api/tasks?role=nobody").json()["total"] == 0
    assert api.get("/api/tasks?state=done").json()["total"] == 0
    assert api.get("/api/tasks?acts_as=supervisor").json()["total"] == 0


# ------------------------------------------------------------------------------------ catalog

def test_procedures_routes(api: Api) -> None:
    listed = api.get("/api/procedures", "analyst").json()
    assert [p["number"] for p in listed] == list(catalog())
    number = listed[0]["number"]
    detail = api.get(f"/api/procedures/{number}", "analyst").json()
    proc = catalog()[number]
    assert detail["version"] == proc.version and detail["name"] == proc.name
    assert [d["id"] for d in detail["documents"]] == [d.id for d in proc.documents]
    assert detail["history"][-1]["current"] is True
    assert detail["definition"]["number"] == number
    assert detail["source"] == {"kind": proc.citation.kind, "act": proc.citation.act,
                                "url": proc.citation.url, "edition": proc.citation.edition,
                                "checked": proc.citation.checked, "notes": proc.citation.notes}
    again = api.get(f"/api/procedures/{number}?version={proc.version}", "analyst")
    assert again.json()["version"] == proc.version
    other = next(p for p in catalog().values() if p.number != number)
    _problem(api.get(f"/api/procedures/{number}?version={other.version}", "analyst"), 404)
    bpmn = api.get(f"/api/procedures/{number}/bpmn", "analyst")
    assert bpmn.headers["content-type"].startswith("application/xml")
    assert b"definitions" in bpmn.content


def test_catalog_diff(api: Api) -> None:
    same = api.get("/api/catalog/diff?from=current", "analyst").json()
    assert same["schema"] == "okno.diff/1" and same["changes"] == []
    everything = api.get("/api/catalog/diff?from=2000-01-01", "analyst").json()
    assert everything["summary"]["burden"] == len(catalog())
    assert everything["old"]["procedures"] == 0
    proc = next(iter(catalog().values()))
    one = api.get(f"/api/catalog/diff?from={proc.version}&to=current", "analyst").json()
    assert one["old"]["procedures"] == one["new"]["procedures"] == 1 and one["changes"] == []
    narrowed = api.get(f"/api/catalog/diff?from=2000-01-01&number={proc.number}", "analyst")
    assert [c["new_number"] for c in narrowed.json()["changes"]] == [proc.number]
    _problem(api.get("/api/catalog/diff?from=yesterday", "analyst"), 422, "query.from")
    _problem(api.get("/api/catalog/diff", "analyst"), 422, "query.from")
    _problem(api.get(f"/api/catalog/diff?from={'0' * 64}", "analyst"), 404)


@pytest.mark.parametrize("path", ["/api/cases", "/api/tasks"])
@pytest.mark.parametrize("value", ["1.436398796151708e-271", "1700000000", "2025-6-1", "tomorrow"])
def test_query_dates_are_iso_text_only(api: Api, path: str, value: str) -> None:
    """Found by schemathesis: pydantic alone reads a number as a Unix time."""
    _problem(api.get(f"{path}?due_before={value}"), 422, "query.due_before")
    assert api.get(f"{path}?due_before=2025-06-01").status_code == 200


def test_empty_filters_are_refused(api: Api) -> None:
    _problem(api.get("/api/cases?authority="), 422, "query.authority")


# ------------------------------------------------------------------------------------ found in review

def test_issue_and_decide_respect_a_claim(api: Api) -> None:
    proc = pick(lambda p: any(s.kind == "issue" for s in p.steps)
                and p.role(p.step(next(s.id for s in p.steps if s.kind == "issue")).role).acts_as == "clerk")
    case = api.start(proc.number)
    api.advance(case["id"], proc.number, until_kind="issue")
    issue = next(t for t in api.open_tasks(case["id"]) if t["kind"] == "issue")
    assert api.post(f"/api/cases/{case['id']}/tasks/{issue['id']}/claim", "clerk").status_code == 200
    colleague = add_user(api.db, "clerk_a2", PASSWORD, "clerk", ORG_A)
    api.tokens["clerk_a2"] = issue_token(colleague, SECRET)[0]
    _problem(api.post(f"/api/cases/{case['id']}/issue", "clerk_a2"), 403)
    assert api.get(f"/api/cases/{case['id']}").json()["status"] == "open"
    assert api.post(f"/api/cases/{case['id']}/issue", "clerk").status_code == 200


def test_a_failure_making_the_answer_undoes_the_keyed_command(api: Api, monkeypatch) -> None:
    """The answer is made and stored in the command's transaction: when making it fails, the
    command is undone with it, and the retry runs afresh (one case, never two)."""
    from engine.read import queries

    body = {"number": "2.1", "applicant": "ivan", "channel": "in_person"}
    headers = {"Idempotency-Key": "after-commit"}
    real = queries.case_view
    before = api.count(cases)
    monkeypatch.setattr(queries, "case_view", lambda *a, **k: 1 / 0)
    assert api.post("/api/cases", "clerk", body, headers=headers).status_code == 500
    assert api.count(cases) == before
    monkeypatch.setattr(queries, "case_view", real)
    retry = api.post("/api/cases", "clerk", body, headers=headers)
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
    assert api.count(cases) == before + 1
    again = api.post("/api/cases", "clerk", body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == retry.content
    assert api.count(cases) == before + 1


def test_catalog_diff_dates_at_the_ends_of_time_lie_before_or_after_every_version(api: Api) -> None:
    """Valid RFC 3339 timestamps (the document allows them) whose UTC time overflows."""
    start = api.get("/api/catalog/diff?from=0001-01-01T00:00:00%2B01:00&to=current", "analyst")
    assert start.status_code == 200 and start.json()["old"]["procedures"] == 0, start.text
    end = api.get("/api/catalog/diff?from=9999-12-31T23:59:59-01:00&to=current", "analyst")
    assert end.status_code == 200, end.text
    assert end.json()["old"]["procedures"] == end.json()["new"]["procedures"] > 0
    assert end.json()["changes"] == []
    _problem(api.get("/api/catalog/diff?from=9999-99-99&to=current", "analyst"), 422, "query.from")


def test_applicants_cannot_exempt_themselves(api: Api) -> None:
    proc = pick(lambda p: p.fee.kind != "free" and p.fee.exemptions and "portal" in p.channels) \
        or pick(lambda p: p.fee.kind != "free" and p.fee.exemptions)
    before = api.count(cases)
    _problem(api.post("/api/cases", "ivan", {"number": proc.number, "authority": ORG_A,
                                             "exempt": True}), 403, "exempt")
    assert api.count(cases) == before

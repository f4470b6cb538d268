"""Reassigning a task to a named clerk: the rule (engine.runtime.case.Case.reassign), the use case
(Cases.reassign: one transaction with its audit event) and the JSON route
(POST /api/cases/{id}/tasks/{task}/assign), on a real SQLite file with real accounts."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.auth import issue_token
from engine.accounts import add_user, disable_user, get_account
from engine.errors import Forbidden, InvalidInput, NotAllowed, NotFound
from engine.read import queries
from engine.store.tables import events, tasks
from tests.test_api_support import ORG_A, ORG_B, PASSWORD, SECRET, Api

NUMBER = "2.1"  # intake, review (clerk) -> decision (supervisor) -> issue (clerk)


@pytest.fixture
def api(tmp_path) -> Api:
    api = Api(tmp_path)
    add_user(api.db, "clerk2", PASSWORD, "clerk", ORG_A)
    add_user(api.db, "supervisor_b", PASSWORD, "supervisor", ORG_B)
    return api


def first_task(api: Api, case_id: str) -> dict:
    return api.open_tasks(case_id)[0]


def assignee(api: Api, task_id: str) -> str | None:
    with api.db.connect() as conn:
        return conn.execute(tasks.select().where(tasks.c.id == task_id)).one().assignee


def test_a_supervisor_gives_a_claimed_task_to_another_clerk_in_one_audited_command(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    api.services.cases.claim(case["id"], task["id"], actor="clerk")
    before = api.count(events)
    api.services.cases.reassign(case["id"], task["id"], "clerk2", actor="supervisor")
    assert assignee(api, task["id"]) == "clerk2"
    assert api.count(events) == before + 1
    last = queries.case_events(api.db, case["id"])[-1]
    assert last["action"] == "reassign" and last["actor"] == "supervisor"
    assert last["data"] == {"task": task["id"], "assignee": "clerk2", "previous": "clerk"}
    # The new holder may complete it; the former one may not any more.
    r = api.complete(case["id"], task, NUMBER, user="clerk")
    assert r.status_code == 403, r.text


def test_giving_a_task_to_whoever_holds_it_already_writes_nothing(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    api.services.cases.reassign(case["id"], task["id"], "clerk2", actor="supervisor")
    before = api.count(events)
    api.services.cases.reassign(case["id"], task["id"], "clerk2", actor="supervisor")
    assert api.count(events) == before


@pytest.mark.parametrize(("actor", "target", "error", "field"), [
    ("clerk", "clerk2", Forbidden, None),  # not a supervisor
    ("supervisor_b", "clerk2", Forbidden, None),  # a supervisor of another authority
    ("nobody", "clerk2", Forbidden, None),  # no such account
    ("supervisor", "clerk_b", InvalidInput, "assignee"),  # a clerk of another authority
    ("supervisor", "ivan", InvalidInput, "assignee"),  # an applicant
    ("supervisor", "analyst", InvalidInput, "assignee"),
    ("supervisor", "nobody", InvalidInput, "assignee"),
])
def test_only_a_supervisor_of_the_authority_and_only_to_its_clerks(api: Api, actor, target, error,
                                                                   field) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    before = api.count(events)
    with pytest.raises(error) as refused:
        api.services.cases.reassign(case["id"], task["id"], target, actor=actor)
    assert refused.value.field == field
    assert assignee(api, task["id"]) is None and api.count(events) == before


def test_a_disabled_clerk_gets_no_task(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    disable_user(api.db, "clerk2", datetime(2025, 6, 18, tzinfo=UTC))
    with pytest.raises(InvalidInput):
        api.services.cases.reassign(case["id"], task["id"], "clerk2", actor="supervisor")


def test_a_supervisor_step_goes_to_a_supervisor_only(api: Api) -> None:
    case = api.start(NUMBER)
    api.advance(case["id"], NUMBER, until_kind="decision")
    decision = first_task(api, case["id"])
    assert decision["acts_as"] == "supervisor"
    with pytest.raises(InvalidInput, match="supervisor"):
        api.services.cases.reassign(case["id"], decision["id"], "clerk2", actor="supervisor")
    add_user(api.db, "deputy", PASSWORD, "supervisor", ORG_A)
    api.services.cases.reassign(case["id"], decision["id"], "deputy", actor="supervisor")
    assert assignee(api, decision["id"]) == "deputy"


def test_only_an_open_task_of_an_open_case(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    assert api.complete(case["id"], task, NUMBER).status_code == 200
    with pytest.raises(NotAllowed):  # done: it waits for nobody
        api.services.cases.reassign(case["id"], task["id"], "clerk2", actor="supervisor")
    with pytest.raises(NotFound):
        api.services.cases.reassign(case["id"], "00000000-0000-0000-0000-000000000000", "clerk2",
                                    actor="supervisor")
    api.services.cases.withdraw(case["id"], actor="clerk")
    later = queries.case_status(api.db, case["id"])
    assert later["status"] == "withdrawn" and later["tasks"] == []


# ------------------------------------------------------------------------------------ HTTP

def test_the_route_reassigns_and_answers_the_new_state(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/assign", "supervisor",
                 {"assignee": "clerk2"})
    assert r.status_code == 200, r.text
    assert [t["assignee"] for t in r.json()["tasks"]] == ["clerk2"]


@pytest.mark.parametrize(("user", "body", "status", "field"), [
    ("clerk", {"assignee": "clerk2"}, 403, None),  # the role may not use the route
    ("auditor", {"assignee": "clerk2"}, 403, None),
    ("supervisor", {"assignee": "clerk_b"}, 422, "assignee"),
    ("supervisor", {"assignee": ""}, 422, "assignee"),
    ("supervisor", {"assignee": "clerk2", "force": True}, 422, "force"),
])
def test_the_route_refuses_and_changes_nothing(api: Api, user, body, status, field) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    before = api.count(events)
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/assign", user, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if field:
        assert r.json()["field"] == field
    assert api.count(events) == before and assignee(api, task["id"]) is None


def test_another_authoritys_case_and_an_unknown_task_are_404(api: Api) -> None:
    case = api.start(NUMBER)
    task = first_task(api, case["id"])
    api.tokens["supervisor_b"] = issue_token(get_account(api.db, "supervisor_b").user, SECRET)[0]
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/assign", "supervisor_b",
                 {"assignee": "clerk2"})
    assert r.status_code == 404 and r.json()["field"] == "case_id"
    r = api.post(f"/api/cases/{case['id']}/tasks/{case['id']}/assign", "supervisor",
                 {"assignee": "clerk2"})
    assert r.status_code == 404 and r.json()["field"] == "task_id"


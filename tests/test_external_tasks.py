"""A drawn process (lane, user task, external service task, message catch event) run through
the engine and the HTTP API: fetch-and-lock, complete, lock expiry, failures to an incident,
message delivery, the audit chain."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.errors import Conflict, InvalidInput
from engine.store.tables import events
from tests.casework import CATALOG, Engine
from tests.test_api_support import Api

MESSAGE = (Path(__file__).parent / "data" / "external.bpmn").read_text(encoding="utf-8")


def _drawn():
    """2.1 run by the drawn file (a user task, a service task, a message catch event)."""
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    return build_procedure(data, "2.1.yaml", MESSAGE)


def _engine(tmp_path) -> Engine:
    proc = _drawn()
    return Engine(tmp_path / "okno.db", procedures={proc.number: proc})


def test_a_message_moves_a_waiting_case_to_its_end(tmp_path):
    eng = _engine(tmp_path)
    case_id = eng.start("2.1")
    with pytest.raises(Conflict) as early:  # the catch event is not reached yet
        eng.cases.deliver_message(case_id, "documents_received", actor="clerk-1")
    assert early.value.field == "name"
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    assert eng.open_tasks(case_id) == [] and eng.case(case_id)["status"] == "open"
    with pytest.raises(Conflict):  # the service task waits first
        eng.cases.deliver_message(case_id, "documents_received", actor="clerk-1")
    [task] = eng.cases.fetch_and_lock("w1", {"registry-check": 60_000}, 10, actor="w1")
    assert (task["case_id"], task["topic"], task["step"]) == (case_id, "registry-check", "check_registry")
    assert "channel" in task["variables"]  # the case data the task sees
    assert eng.cases.fetch_and_lock("w2", {"registry-check": 60_000}, 10, actor="w2") == []
    with pytest.raises(Conflict) as wrong:
        eng.cases.complete_external(task["id"], "w2", {}, actor="w2")
    assert wrong.value.field == "worker_id"
    eng.cases.complete_external(task["id"], "w1", {"in_registry": True}, actor="w1")
    with pytest.raises(Conflict) as unknown:
        eng.cases.deliver_message(case_id, "no_such_message", actor="clerk-1")
    assert unknown.value.field == "name" and "documents_received" in str(unknown.value)
    with pytest.raises(InvalidInput) as bad:
        eng.cases.deliver_message(case_id, "documents_received", {"x": [1]}, actor="clerk-1")
    assert bad.value.field == "variables.x"
    assert eng.case(case_id)["status"] == "open"  # refused deliveries changed nothing
    eng.cases.deliver_message(case_id, "documents_received", {"register_no": "Р-17"},
                              actor="clerk-1")
    assert eng.case(case_id)["status"] == "completed"
    with eng.db.connect() as conn:
        rows = conn.execute(select(events.c.action, events.c.data)
                            .where(events.c.case_id == case_id)).all()
    delivered = [json.loads(data) for action, data in rows if action == "message"]
    assert len(delivered) == 1 and delivered[0]["variables"] == {"register_no": "Р-17"}
    assert eng.verify()[1] == []


def test_messages_route_delivers_and_refuses_naming_the_field(tmp_path):
    api = Api(tmp_path)
    api.services.versions.publish([_drawn()])
    case_id = api.start("2.1")["id"]
    route = f"/api/cases/{case_id}/messages"
    early = api.post(route, json={"name": "documents_received"})
    assert early.status_code == 409 and early.json()["field"] == "name", early.text
    task = api.get(f"/api/cases/{case_id}").json()["tasks"][0]["id"]
    r = api.post(f"/api/cases/{case_id}/tasks/{task}/complete", json={"data": {}})
    assert r.status_code == 200, r.text
    wrong = api.post(route, json={"name": "no_such_message"})
    assert wrong.status_code == 409 and wrong.json()["field"] == "name"
    assert wrong.headers["content-type"] == "application/problem+json"
    assert api.post(route, user="ivan", json={"name": "documents_received"}).status_code == 403
    fetch = {"worker_id": "w1", "max_tasks": 5,
             "topics": [{"name": "registry-check", "lock_duration": 60_000}]}
    [task] = api.post("/api/external-tasks/fetch-and-lock", "supervisor", fetch).json()
    assert (task["case_id"], task["topic"], task["worker_id"]) == (case_id, "registry-check", "w1")
    ext = f"/api/external-tasks/{task['id']}"
    r = api.post(f"{ext}/complete", "supervisor", {"worker_id": "w2", "variables": {}})
    assert r.status_code == 409 and r.json()["field"] == "worker_id", r.text
    r = api.post("/api/external-tasks/no-such-task/complete", "supervisor", {"worker_id": "w1"})
    assert r.status_code == 404 and r.json()["field"] == "task_id"
    assert api.post("/api/external-tasks/fetch-and-lock", "clerk", fetch).status_code == 403
    r = api.post(f"{ext}/complete", "supervisor", {"worker_id": "w1", "variables": {"found": True}})
    assert r.status_code == 200, r.text
    done = api.post(route, json={"name": "documents_received", "variables": {"register_no": "Р-17"}})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"


def _api_case(tmp_path):
    api = Api(tmp_path)
    api.services.versions.publish([_drawn()])
    case_id = api.start("2.1")["id"]
    task = api.get(f"/api/cases/{case_id}").json()["tasks"][0]["id"]
    assert api.post(f"/api/cases/{case_id}/tasks/{task}/complete", json={"data": {}}).status_code == 200
    return api, case_id


def _fetch(api, worker: str, lock_ms: int = 60_000) -> list[dict]:
    r = api.post("/api/external-tasks/fetch-and-lock", "supervisor", {
        "worker_id": worker, "max_tasks": 1, "topics": [{"name": "registry-check",
                                                         "lock_duration": lock_ms}]})
    assert r.status_code == 200, r.text
    return r.json()


def test_an_expired_lock_lets_another_worker_fetch_and_failures_end_in_an_incident(tmp_path):
    api, case_id = _api_case(tmp_path)
    [task] = _fetch(api, "w1", lock_ms=1000)
    assert _fetch(api, "w2") == []  # locked by w1
    ext = f"/api/external-tasks/{task['id']}"
    assert api.post(f"{ext}/extend-lock", "supervisor",
                    {"worker_id": "w1", "new_duration": 2000}).status_code == 200
    api.clock.advance(seconds=3)
    r = api.post(f"{ext}/complete", "supervisor", {"worker_id": "w1"})
    assert r.status_code == 409 and r.json()["field"] == "worker_id"  # the lock expired
    assert [t["id"] for t in _fetch(api, "w2")] == [task["id"]]
    r = api.post(f"{ext}/failure", "supervisor", {"worker_id": "w2", "error_message": "реестр недоступен",
                                                  "retries": 1, "retry_timeout": 5000})
    assert r.status_code == 200, r.text
    assert _fetch(api, "w3") == []  # waits for its retry timeout
    api.clock.advance(seconds=6)
    assert [t["retries"] for t in _fetch(api, "w3")] == [1]
    r = api.post(f"{ext}/failure", "supervisor", {"worker_id": "w3", "error_message": "снова",
                                                  "retries": 0})
    assert r.status_code == 200
    api.clock.advance(seconds=60)
    assert _fetch(api, "w4") == []  # an incident is not fetched again
    view = api.get(f"/api/cases/{case_id}").json()
    [open_task] = view["external_tasks"]
    assert (open_task["incident"], open_task["retries"], open_task["error_message"]) == (True, 0, "снова")
    trail = api.get(f"/api/cases/{case_id}/events").json()
    assert trail["chain_ok"] is True
    assert [e["action"] for e in trail["events"]].count("external_failure") == 2


def _incident(api, case_id: str) -> str:
    """The case's external task failed with no retries left: an incident; its id."""
    [task] = _fetch(api, "w1")
    r = api.post(f"/api/external-tasks/{task['id']}/failure", "supervisor",
                 {"worker_id": "w1", "error_message": "реестр недоступен", "retries": 0})
    assert r.status_code == 200, r.text
    assert _fetch(api, "w2") == []
    return task["id"]


def test_an_incident_is_reset_by_a_supervisor_and_fetched_again(tmp_path):
    api, case_id = _api_case(tmp_path)
    [task] = _fetch(api, "w1")
    route = f"/api/external-tasks/{task['id']}/retries"
    not_yet = api.post(route, "supervisor", {"retries": 3})  # locked, not failed: no incident
    assert not_yet.status_code == 409 and not_yet.json()["field"] == "task_id", not_yet.text
    api.clock.advance(seconds=61)
    task_id = _incident(api, case_id)
    before = api.get(f"/api/cases/{case_id}/events").json()["events"]
    for bad in ({"retries": 0}, {"retries": -1}, {"retries": 101}, {"retries": "many"}, {"retries": 1.5},
                {}, {"retries": 3, "extra": 1}):
        r = api.post(route, "supervisor", bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = api.post(route, "supervisor", {"retries": 0})
    assert "retries" in r.text
    assert api.post(route, "clerk", {"retries": 3}).status_code == 403
    unknown = api.post("/api/external-tasks/no-such-task/retries", "supervisor", {"retries": 3})
    assert unknown.status_code == 404 and unknown.json()["field"] == "task_id"
    # refusals changed nothing: still an incident, no new event
    assert api.get(f"/api/cases/{case_id}/events").json()["events"] == before
    assert _fetch(api, "w2") == []

    r = api.post(route, "supervisor", {"retries": 2})
    assert r.status_code == 200, r.text
    [ext] = api.get(f"/api/cases/{case_id}").json()["external_tasks"]
    assert (ext["incident"], ext["retries"], ext["locked_by"]) == (False, 2, None)
    again = api.post(route, "supervisor", {"retries": 2})  # no longer an incident
    assert again.status_code == 409 and again.json()["field"] == "task_id"
    trail = api.get(f"/api/cases/{case_id}/events").json()
    [reset] = [e for e in trail["events"] if e["action"] == "external_retries"]
    assert reset["actor"] == "supervisor" and reset["data"]["retries"] == 2
    assert reset["data"]["task"] == task_id and trail["chain_ok"] is True
    [fetched] = _fetch(api, "w3")  # fetchable again at once
    assert (fetched["id"], fetched["retries"]) == (task_id, 2)
    r = api.post(f"/api/external-tasks/{task_id}/complete", "supervisor",
                 {"worker_id": "w3", "variables": {}})
    assert r.status_code == 200, r.text
    done = api.post(route, "supervisor", {"retries": 2})
    assert done.status_code == 409 and "done" in done.json()["detail"], done.text


def test_resetting_an_incident_is_for_the_supervisors_of_its_authority(tmp_path):
    from engine.errors import NotFound

    eng = _engine(tmp_path)
    case_id = eng.start("2.1")
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    [task] = eng.cases.fetch_and_lock("w1", {"registry-check": 60_000}, 10, actor="w1")
    eng.cases.fail_external(task["id"], "w1", "нет связи", 0, 0, actor="w1")
    authority = eng.case(case_id)["authority"]
    with pytest.raises(NotFound):
        eng.cases.reset_retries(task["id"], 1, actor="s2", authority=authority + "-other")
    with pytest.raises(InvalidInput) as bad:
        eng.cases.reset_retries(task["id"], True, actor="s1", authority=authority)
    assert bad.value.field == "retries"
    eng.cases.reset_retries(task["id"], 1, actor="s1", authority=authority)
    assert [t["id"] for t in eng.cases.fetch_and_lock("w2", {"registry-check": 1000}, 10,
                                                      actor="w2")] == [task["id"]]
    assert eng.verify()[1] == []


def test_the_case_page_shows_external_tasks_and_a_supervisor_resets_an_incident(tmp_path):
    from tests.pages_support import post_form, sign_in_client

    api, case_id = _api_case(tmp_path)
    page = f"/cases/{case_id}"
    [task] = _fetch(api, "w1")
    sign_in_client(api, "clerk")
    text = api.client.get(page).text
    assert "Внешние задачи" in text and "registry-check" in text
    assert f'data-external="{task["id"]}" data-state="locked"' in text
    assert "выполняется внешним исполнителем" in text and "w1, до " in text
    assert "Инцидент" not in text

    api.clock.advance(seconds=61)
    task_id = _incident(api, case_id)
    text = api.client.get(page).text
    assert f'data-external="{task_id}" data-state="incident" class="incident"' in text
    assert 'id="external-incidents"' in text and "исчерпала" in text
    assert "инцидент: попытки исчерпаны" in text and "реестр недоступен" in text
    action = f"/cases/{case_id}/external-tasks/{task_id}/retries"
    assert f'action="{action}"' not in text  # a clerk sees the incident, not the button
    refused = post_form(api, page, action, {"retries": "2"})
    assert refused.status_code == 403

    sign_in_client(api, "supervisor")
    text = api.client.get(page).text
    assert f'action="{action}"' in text and "Снять инцидент и перезапустить" in text
    assert api.client.post(action, data={"retries": "2"}).status_code == 403  # no CSRF token
    bad = post_form(api, page, action, {"retries": "0"})
    assert bad.status_code == 422 and "Число попыток — целое число от 1 до 100." in bad.text
    assert 'id="external_retries-error"' in bad.text
    bad = post_form(api, page, action, {"retries": "много"})
    assert bad.status_code == 422 and "Число попыток" in bad.text
    assert _fetch(api, "w2") == []  # the refusals changed nothing
    done = post_form(api, page, action, {"retries": "2"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{page}?done=external_retries"
    text = api.client.get(done.headers["location"]).text
    assert "Готово: Инцидент внешней задачи снят" in text
    assert f'data-external="{task_id}" data-state="waiting"' in text and 'class="incident"' not in text
    again = post_form(api, page, action, {"retries": "2"})
    assert again.status_code == 409 and "уже не в состоянии инцидента" in again.text
    assert [t["retries"] for t in _fetch(api, "w3")] == [2]

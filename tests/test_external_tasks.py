"""BPMN messages delivered to a drawn process: a message catch event waits until its message
arrives (engine and HTTP API). External (service) tasks are not built yet."""
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


def _engine(tmp_path) -> Engine:
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    proc = build_procedure(data, "2.1.yaml", MESSAGE)
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
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    api.services.versions.publish([build_procedure(data, "2.1.yaml", MESSAGE)])
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
    [task] = api.services.cases.fetch_and_lock("w1", {"registry-check": 1000}, 1, actor="w1")
    api.services.cases.complete_external(task["id"], "w1", {}, actor="w1")
    done = api.post(route, json={"name": "documents_received", "variables": {"register_no": "Р-17"}})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"

"""Runtime defects of drawn BPMN processes (issue 11), each on a small drawn file in tests/data/:
a timer on an event-based gateway, a multi-instance task without its collection, a process that
ends without a decision, and the messages a case waits for."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.errors import InvalidInput
from engine.runtime.scheduler import sweep
from engine.store.tables import cases, events, tasks, timers
from tests.casework import CATALOG, Engine
from tests.test_api_support import Api

DATA = Path(__file__).parent / "data"


def _drawn(file: str):
    """2.1 run by the drawn file `file` (2.1's definition without its steps)."""
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    return build_procedure(data, "2.1.yaml", (DATA / file).read_text(encoding="utf-8"))


def _engine(tmp_path, file: str) -> Engine:
    proc = _drawn(file)
    return Engine(tmp_path / "okno.db", procedures={proc.number: proc})


def _at_gateway(tmp_path) -> tuple[Engine, str]:
    eng = _engine(tmp_path, "event_gateway.bpmn")
    case_id = eng.start("2.1")
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    return eng, case_id


# ------------------------------------------------------------- 1. a timer on an event-based gateway

def test_a_timer_on_an_event_based_gateway_fires_when_the_clock_passes_it(tmp_path):
    eng, case_id = _at_gateway(tmp_path)
    with eng.db.connect() as conn:
        (due_at,) = conn.execute(select(timers.c.due_at)).scalars().all()
    # computed from the injected clock (the case's now), three days on: "P3D"
    assert due_at.replace(tzinfo=None) == eng.clock.now().replace(tzinfo=None) + _days(3)
    eng.clock.advance(days=2)
    assert sweep(eng.cases) == (0, 0)
    assert eng.open_tasks(case_id) == []
    eng.clock.advance(days=1, seconds=1)
    assert sweep(eng.cases)[0] == 1
    assert [t["step"] for t in eng.open_tasks(case_id)] == ["remind"]  # the timer branch
    with eng.db.connect() as conn:
        assert conn.execute(select(timers)).all() == []
    with pytest.raises(Exception) as late:  # the message branch is gone with the gateway
        eng.cases.deliver_message(case_id, "answer_received", actor="clerk-1")
    assert getattr(late.value, "field", None) == "name"
    eng.run_to_end(case_id)
    assert eng.case(case_id)["status"] == "completed"
    assert eng.verify()[1] == []


def test_a_message_delivered_first_cancels_the_gateways_timer(tmp_path):
    eng, case_id = _at_gateway(tmp_path)
    eng.clock.advance(days=1)
    eng.cases.deliver_message(case_id, "answer_received", {"answer_no": "О-5"}, actor="clerk-1")
    assert eng.case(case_id)["status"] == "completed"
    with eng.db.connect() as conn:
        assert conn.execute(select(timers)).all() == []  # the timer left the index
    eng.clock.advance(days=10)
    assert sweep(eng.cases) == (0, 0)
    assert eng.open_tasks(case_id) == []
    assert eng.verify()[1] == []


def _days(n: int):
    from datetime import timedelta
    return timedelta(days=n)


# --------------------------------------------------- 2. a multi-instance task without its collection

def _table_rows(db) -> dict[str, list]:
    with db.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t)).all()]
                for t in (cases, tasks, events, timers)}


def test_a_multi_instance_task_without_its_list_is_a_clear_422_and_stores_nothing(tmp_path):
    api = Api(tmp_path)
    api.services.versions.publish([_drawn("multi_instance.bpmn")])
    case_id = api.start("2.1")["id"]
    task = api.get(f"/api/cases/{case_id}").json()["tasks"][0]["id"]
    before = _table_rows(api.db)
    route = f"/api/cases/{case_id}/tasks/{task}/complete"
    for data, said in (({}, "нет в данных дела"), ({"documents": "паспорт"}, "«текст», а не список"),
                       ({"documents": 3}, "«число», а не список"),
                       ({"documents": None}, "не задано")):
        r = api.post(route, json={"data": data})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["field"] == "data.documents"
        assert "Проверить документ" in body["detail"] and said in body["detail"], body["detail"]
        assert "TypeError" not in r.text and "NoneType" not in r.text
    assert _table_rows(api.db) == before  # nothing stored
    view = api.get(f"/api/cases/{case_id}").json()
    assert [t["id"] for t in view["tasks"]] == [task] and view["status"] == "open"


def _scripted(script: str):
    """multi_instance.bpmn with its intake a script task running `script`."""
    xml = (DATA / "multi_instance.bpmn").read_text(encoding="utf-8").replace(
        '<bpmn:userTask id="intake" name="Приём заявления">',
        '<bpmn:scriptTask id="intake" name="Подготовка">').replace(
        '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>',
        f'<bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    return build_procedure(data, "2.1.yaml", xml)


def test_a_multi_instance_task_runs_once_per_item_of_its_list(tmp_path):
    proc = _scripted('documents = ["паспорт", "справка"]')
    eng = Engine(tmp_path / "okno.db", procedures={proc.number: proc})
    case_id = eng.start("2.1")
    assert len(eng.open_tasks(case_id)) == 2
    eng.run_to_end(case_id)
    assert eng.case(case_id)["status"] == "completed"


def test_a_missing_list_reached_by_the_engine_refuses_the_start(tmp_path):
    proc = _scripted("x = 1")
    eng = Engine(tmp_path / "okno.db", procedures={proc.number: proc})
    with pytest.raises(InvalidInput) as refused:
        eng.start("2.1")
    assert refused.value.field == "data.documents"
    with eng.db.connect() as conn:
        assert conn.execute(select(cases)).all() == []


# ------------------------------------------------------------ 3. an end without a decision step

def test_a_drawn_process_without_a_decision_ends_approved(tmp_path):
    api = Api(tmp_path)
    api.services.versions.publish([_drawn("event_gateway.bpmn")])
    case_id = api.start("2.1")["id"]
    task = api.get(f"/api/cases/{case_id}").json()["tasks"][0]["id"]
    r = api.post(f"/api/cases/{case_id}/tasks/{task}/complete", json={"data": {}})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] is None  # still open: no outcome yet
    done = api.post(f"/api/cases/{case_id}/messages", json={"name": "answer_received"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["outcome"]) == ("completed", "approved")
    mine = api.get(f"/api/cases/{case_id}", "ivan")  # the applicant sees it
    assert mine.status_code == 200, mine.text
    assert (mine.json()["status"], mine.json()["outcome"]) == ("completed", "approved")


def test_a_drawn_process_that_decides_keeps_its_decision(tmp_path):
    # timer_script.bpmn has a decision task (kind: decision): its refusal stays a refusal
    eng2 = Engine(tmp_path / "d.db", procedures={"2.1": _timer_script()})
    case_id = eng2.start("2.1")
    [decision] = eng2.open_tasks(case_id)
    ground = _timer_script().refusal_grounds[0].id
    eng2.cases.decide(case_id, "refuse", ground=ground, actor="clerk-1")
    row = eng2.case(case_id)
    assert (row["status"], row["outcome"], row["ground"]) == ("completed", "refused", ground)


def _timer_script():
    data = load_catalog(CATALOG)["2.1"].definition
    del data["steps"]
    data["bpmn"] = "2.1.bpmn"
    xml = (DATA / "timer_script.bpmn").read_text(encoding="utf-8").replace("TIMER_TARGET", "'x'")
    return build_procedure(data, "2.1.yaml", xml)


# -------------------------------------------------------------------- 4. the messages a case awaits

def test_the_case_json_names_the_messages_the_case_waits_for(tmp_path):
    api = Api(tmp_path)
    api.services.versions.publish([_drawn("event_gateway.bpmn")])
    case_id = api.start("2.1")["id"]
    view = api.get(f"/api/cases/{case_id}").json()
    assert view["waiting_messages"] == []  # the intake comes first
    task = view["tasks"][0]["id"]
    assert api.post(f"/api/cases/{case_id}/tasks/{task}/complete",
                    json={"data": {}}).status_code == 200
    assert api.get(f"/api/cases/{case_id}").json()["waiting_messages"] == ["answer_received"]
    assert api.post(f"/api/cases/{case_id}/messages",
                    json={"name": "answer_received"}).status_code == 200
    assert api.get(f"/api/cases/{case_id}").json()["waiting_messages"] == []


def test_waiting_messages_of_a_plain_catch_event_and_of_a_compiled_procedure(tmp_path):
    eng = _engine(tmp_path, "external.bpmn")
    case_id = eng.start("2.1")
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], {}, actor="clerk-1")
    [task] = eng.cases.fetch_and_lock("w1", {"registry-check": 60_000}, 1, actor="w1")
    assert _waiting(eng, case_id) == []  # the service task waits first
    eng.cases.complete_external(task["id"], "w1", {}, actor="w1")
    assert _waiting(eng, case_id) == ["documents_received"]
    other = Engine(tmp_path / "compiled.db")
    compiled = other.start("2.2")
    assert _waiting(other, compiled) == []


def _waiting(eng: Engine, case_id: str) -> list[str]:
    from engine.read.queries import case_view
    return case_view(eng.db, case_id, eng.cases.versions)["waiting_messages"]

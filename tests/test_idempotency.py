"""engine.idempotency and api.idempotency: the answer to a keyed command is stored in the
command's own transaction, so the two commit together or not at all.

Real parts: a SQLite file, the real catalog, the app through its TestClient; requests that race
are real threads. (A process killed mid-command: tests/test_crash.py.)
"""
from __future__ import annotations

import threading
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from engine import idempotency as keys
from engine.errors import NotAllowed
from engine.store.tables import cases, events, idempotency
from tests.test_api_support import Api, catalog, task_data

ROUTE = "POST /api/cases"


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def _remember(api: Api, key: str, digest: str = "h") -> keys.Remember:
    """What the API passes the engine for `key`: the answer is the new case's id."""
    now = api.clock.now()
    return keys.Remember("clerk", key, ROUTE, digest, now, now - timedelta(hours=24),
                         lambda conn, case_id: (201, orjson.dumps({"id": case_id})))


def _start(api: Api, remember: keys.Remember | None) -> str:
    return api.services.cases.start("2.1", applicant="ivan", channel="in_person",
                                    authority="minsk-sovetsky", actor="clerk", remember=remember)


def _stored(api: Api) -> list[tuple]:
    with api.db.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(idempotency.c.key, idempotency.c.status_code, idempotency.c.response_body))]


def test_the_answer_is_stored_with_the_command(api: Api) -> None:
    remember = _remember(api, "k1")
    case_id = _start(api, remember)
    body = orjson.dumps({"id": case_id})
    assert remember.answered == (201, body)
    assert _stored(api) == [("k1", 201, body)]
    found = keys.lookup(api.db, "clerk", "k1", api.clock.now() - timedelta(hours=1))
    assert found is not None and found.same_request(ROUTE, "h") and found.body == body
    assert not found.same_request(ROUTE, "other")
    assert keys.lookup(api.db, "clerk", "k1", api.clock.now() + timedelta(seconds=1)) is None
    assert keys.lookup(api.db, "supervisor", "k1", api.clock.now() - timedelta(hours=1)) is None


def test_a_twin_that_commits_second_is_undone_whole(api: Api) -> None:
    """Two requests with one key that both found it unused: the second to commit fails on the
    key, and its case (rows, event) is rolled back with it."""
    first = _start(api, _remember(api, "twin"))
    n_cases, n_events = api.count(cases), api.count(events)
    twin = _remember(api, "twin")
    with pytest.raises(keys.KeyTaken):
        _start(api, twin)
    assert twin.answered is None
    assert (api.count(cases), api.count(events)) == (n_cases, n_events)
    assert _stored(api) == [("twin", 201, orjson.dumps({"id": first}))]


def test_a_failing_answer_undoes_the_command(api: Api) -> None:
    def broken(conn, case_id):
        raise NotAllowed("no answer")

    now = api.clock.now()
    remember = keys.Remember("clerk", "k", ROUTE, "h", now, now - timedelta(hours=24), broken)
    n_cases = api.count(cases)
    with pytest.raises(NotAllowed):
        _start(api, remember)
    assert api.count(cases) == n_cases and _stored(api) == []


def test_an_expired_row_gives_way_in_the_commands_transaction(api: Api) -> None:
    old = _start(api, _remember(api, "k"))
    api.clock.advance(hours=25)
    new = _start(api, _remember(api, "k"))
    assert new != old and _stored(api) == [("k", 201, orjson.dumps({"id": new}))]


def test_a_keyed_completion_stores_the_status_it_answered(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    api.present_documents(case["id"], number)
    task = case["tasks"][0]
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    first = api.post(url, json={"data": task_data(catalog()[number], task)},
                     headers={"Idempotency-Key": "done"})
    assert first.status_code == 200
    assert _stored(api) == [("done", 200, first.content)]
    recorded = len(catalog()[number].documents)  # one event per document, then the step
    assert first.json()["row_version"] == case["row_version"] + recorded + 1


@pytest.mark.parametrize("route", ["create", "complete"])
def test_concurrent_requests_with_one_key_act_once(api: Api, route: str) -> None:
    """Requests with the same key sent at once: each gets the one answer, one command is stored."""
    number = "2.1"
    if route == "create":
        url, body = "/api/cases", {"number": number, "applicant": "ivan", "channel": "in_person"}
    else:
        case = api.start(number)
        task = case["tasks"][0]
        url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
        body = {"data": task_data(catalog()[number], task)}
    n_cases, n_events = api.count(cases), api.count(events)
    gate, answers = threading.Barrier(6), []

    def send() -> None:
        gate.wait(timeout=30)
        answers.append(api.post(url, json=body, headers={"Idempotency-Key": "together"}))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == 6 and all(not t.is_alive() for t in threads)
    assert {r.status_code for r in answers} == {201 if route == "create" else 200}, \
        [r.text for r in answers]
    assert len({r.content for r in answers}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in answers) == 1
    assert api.count(cases) == n_cases + (route == "create")
    assert api.count(events) == n_events + 1

"""Stored workflow states carry their versions (okno's layout, SpiffWorkflow's serializer format),
and a restore reads them: an older layout is migrated, an unreadable one is refused clearly."""
from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select, update

from engine.errors import NotAllowed
from engine.store import workflow_state
from engine.store.tables import cases, events
from tests.casework import Engine

OLD = "okno-test/0"


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db")


def _stored(eng: Engine, case_id: str) -> dict:
    with eng.db.connect() as conn:
        return dict(conn.execute(select(cases.c.state, cases.c.state_format, cases.c.spiff_version,
                                        cases.c.row_version).where(cases.c.id == case_id)).one()._mapping)


def _rewrite(eng: Engine, case_id: str, **values) -> None:
    with eng.db.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
    eng.cases.live = type(eng.cases.live)()  # a fresh process: nothing cached, restore from the row


def _first_task(eng: Engine, case_id: str) -> dict:
    tasks = eng.open_tasks(case_id)
    assert tasks
    return tasks[0]


def test_every_stored_state_names_its_format_and_spiffworkflows_serializer_version(eng):
    case_id = eng.start("6.1.1")
    stored = _stored(eng, case_id)
    assert stored["state_format"] == workflow_state.FORMAT
    assert stored["spiff_version"] == workflow_state.SPIFF_VERSION
    from SpiffWorkflow.bpmn.serializer import workflow as spiff_serializer
    assert workflow_state.SPIFF_VERSION == spiff_serializer.VERSION


def test_a_state_in_an_older_layout_is_migrated_on_restore_and_saved_in_the_new_one(eng, monkeypatch):
    case_id = eng.start("6.1.1")
    stored = _stored(eng, case_id)
    # The "old layout" of this test keeps the tasks under another key; its migration moves them back.
    old = orjson.loads(stored["state"])
    old["task_map"] = old.pop("tasks")
    calls = []

    def from_old(dct: dict) -> dict:
        calls.append(True)
        dct["tasks"] = dct.pop("task_map")
        return dct

    monkeypatch.setitem(workflow_state.FORMAT_MIGRATIONS, OLD, (from_old, workflow_state.FORMAT))
    _rewrite(eng, case_id, state=orjson.dumps(old), state_format=OLD)
    task = _first_task(eng, case_id)
    eng.cases.claim(case_id, task["id"], actor="clerk-1")  # no workflow change: the old state stays
    assert calls == [True]
    assert _stored(eng, case_id)["state_format"] == OLD
    eng.cases.live = type(eng.cases.live)()
    eng.run_to_end(case_id)
    assert len(calls) == 2
    after = _stored(eng, case_id)
    assert after["state_format"] == workflow_state.FORMAT  # written back in the current layout
    assert eng.case(case_id)["status"] == "completed"


@pytest.mark.parametrize("values, message", [
    ({"state_format": "okno-unknown/9"}, "stored state format 'okno-unknown/9' is unknown"),
    ({"spiff_version": "9.9"}, "serializer format '9.9' cannot be read"),
])
def test_a_state_this_release_cannot_read_is_refused_and_nothing_changes(eng, values, message):
    case_id = eng.start("6.1.1")
    task = _first_task(eng, case_id)
    _rewrite(eng, case_id, **values)
    before = _stored(eng, case_id)
    with eng.db.connect() as conn:
        trail = conn.execute(select(events).where(events.c.case_id == case_id)).all()
    with pytest.raises(NotAllowed, match=message):
        eng.cases.complete_task(case_id, task["id"], {}, actor="clerk-1")
    assert _stored(eng, case_id) == before
    with eng.db.connect() as conn:
        assert conn.execute(select(events).where(events.c.case_id == case_id)).all() == trail


def test_a_failing_migration_is_a_clear_error(eng, monkeypatch):
    case_id = eng.start("6.1.1")
    task = _first_task(eng, case_id)
    monkeypatch.setitem(workflow_state.FORMAT_MIGRATIONS, OLD,
                        (lambda dct: dct["no_such_key"], workflow_state.FORMAT))
    _rewrite(eng, case_id, state_format=OLD)
    with pytest.raises(NotAllowed, match="could not be migrated"):
        eng.cases.complete_task(case_id, task["id"], {}, actor="clerk-1")


def test_migrations_that_loop_are_refused(monkeypatch):
    monkeypatch.setitem(workflow_state.FORMAT_MIGRATIONS, "a", (lambda d: d, "b"))
    monkeypatch.setitem(workflow_state.FORMAT_MIGRATIONS, "b", (lambda d: d, "a"))
    with pytest.raises(workflow_state.StateFormatError, match="loop"):
        workflow_state.upgrade({}, "a", workflow_state.SPIFF_VERSION)

"""A closed case keeps a compact stand-in for its workflow state (engine.store.closed_state):
closing writes it, migration 0017 writes it for cases closed before, the case's view, page and
audit verification stay as they were, an edited stand-in is caught, and a closed case takes no
more commands."""
from __future__ import annotations

import hashlib
from datetime import date

import orjson
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, update

from engine.audit.chain import EventMac
from engine.errors import NotAllowed
from engine.read.case_page import case_page
from engine.read.queries import case_view
from engine.runtime.commands import Cases
from engine.store import closed_state, workflow_state
from engine.store.connect import MIGRATIONS
from engine.store.tables import cases, events
from engine.terms import default_calendar
from tests.casework import Engine


def _ended(eng: Engine) -> str:
    case_id = eng.start("6.1.1")
    eng.run_to_end(case_id)
    return case_id


def _page(eng: Engine, case_id: str) -> dict:
    page = case_page(eng.db, case_id, eng.versions, today=date(2025, 6, 18),
                     calendar=default_calendar())
    return {k: v for k, v in page.items() if k not in ("status", "closed_at", "row_version", "events")}


def test_closing_replaces_the_state_by_a_stand_in_and_the_case_reads_the_same(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = _ended(eng)
    full = eng.case(case_id)["state"]
    view, page = case_view(eng.db, case_id, eng.versions), _page(eng, case_id)
    eng.cases.close(case_id, actor="clerk-1")
    row = eng.case(case_id)
    assert row["status"] == "closed" and row["state_format"] == closed_state.FORMAT
    assert len(full) > 5000 and len(row["state"]) < 120
    assert closed_state.replaced(row["state"], row["state_format"]) == hashlib.sha256(full).hexdigest()
    after = case_view(eng.db, case_id, eng.versions)
    assert {k: v for k, v in after.items() if k not in ("status", "row_version")} == \
        {k: v for k, v in view.items() if k not in ("status", "row_version")}
    assert _page(eng, case_id) == page  # tasks, documents, diagram, steps: as before closing
    assert eng.verify(case_id) == (1, [])


@pytest.mark.parametrize("cached", [True, False])
def test_a_closed_case_takes_no_more_commands(tmp_path, cached):
    eng = Engine(tmp_path / "okno.db")
    case_id = _ended(eng)
    eng.cases.close(case_id, actor="clerk-1")
    before = eng.case(case_id)
    runner = eng.cases if cached else Cases(eng.db, eng.versions, eng.clock, ledger=eng.ledger)
    with pytest.raises(NotAllowed, match="closed"):
        runner.close(case_id, actor="clerk-1")
    assert eng.case(case_id) == before


def test_an_edited_stand_in_is_caught_by_the_audit(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = _ended(eng)
    eng.cases.close(case_id, actor="clerk-1")
    forged = orjson.dumps({"closed": {"replaces": "0" * 64}})
    with eng.db.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case_id).values(state=forged))
    checked, breaks = eng.verify(case_id)
    assert checked == 1 and any("workflow state" in str(b) for b in breaks)


@pytest.mark.parametrize("state", [b'{"closed": {"replaces": "%s"}}' % (b"a" * 64),  # spaced
                                   b'{"closed":{"replaces":"abc"}}', b"not json", b"[]"])
def test_replaced_reads_only_a_stand_in_as_compact_writes_it(state):
    assert closed_state.replaced(state, closed_state.FORMAT) is None
    good = closed_state.compact(b"x")
    assert closed_state.replaced(good, workflow_state.FORMAT) is None
    assert closed_state.replaced(good, closed_state.FORMAT) == hashlib.sha256(b"x").hexdigest()


def test_a_stand_in_is_never_restored_as_a_workflow():
    with pytest.raises(workflow_state.StateFormatError, match="closed"):
        workflow_state.load(closed_state.compact(b"x"), None, None, state_format=closed_state.FORMAT)


def _closed_the_old_way(eng: Engine, case_id: str, full: bytes) -> None:
    """The close as the code before 0017 wrote it: the full state kept, the event's effects
    without the state (re-signed under the test key, the last event of the chain)."""
    with eng.db.begin() as conn:
        last = dict(conn.execute(select(events).where(events.c.case_id == case_id)
                                 .order_by(events.c.seq.desc()).limit(1)).one()._mapping)
        assert last["action"] == "close"
        effects = orjson.loads(last["effects"])
        for key in ("state", "state_format"):
            effects["case"].pop(key)
        effects.get("before", {}).pop("state", None)
        text = orjson.dumps(effects, option=orjson.OPT_SORT_KEYS).decode()
        mac = EventMac(eng.ledger.keys.current)
        signed = mac(case_id, last["prev_hash"], last["seq"], last["at"], last["actor"],
                     last["action"], last["step"], last["digest"], text)
        conn.execute(update(events).where(events.c.gseq == last["gseq"])
                     .values(effects=text, hash=signed))
        conn.execute(update(cases).where(cases.c.id == case_id).values(
            state=full, state_format=workflow_state.FORMAT, last_hash=signed))


def test_migration_0017_compacts_the_cases_closed_before_and_they_verify(tmp_path):
    path = tmp_path / "old.db"
    eng = Engine(path)
    closed, ended = _ended(eng), _ended(eng)
    full = eng.case(closed)["state"]
    eng.cases.close(closed, actor="clerk-1")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with eng.db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")  # to the revision before 0017
    _closed_the_old_way(eng, closed, full)
    with eng.db.connect() as conn:  # a database as the code before 0017 left it (today's code
        # reads columns added since, so the check is on the row itself)
        old = conn.execute(select(cases.c.state, cases.c.state_format)
                           .where(cases.c.id == closed)).one()
    assert old == (full, workflow_state.FORMAT)
    with eng.db.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    row = eng.case(closed)
    assert row["state_format"] == closed_state.FORMAT and len(row["state"]) < 120
    assert eng.case(ended)["state_format"] == workflow_state.FORMAT  # ended, not closed: kept
    assert eng.verify() == (2, [])
    with eng.db.begin() as conn:  # a stand-in for another state does not pass
        conn.execute(update(cases).where(cases.c.id == closed).values(
            state=closed_state.compact(full + b" ")))
    assert any("workflow state" in str(b) for b in eng.verify(closed)[1])

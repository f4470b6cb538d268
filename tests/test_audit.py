"""`okno audit verify` against every way of rewriting history the issue lists, each done with
direct SQL on a real SQLite file (a copy of one checkpointed database per case), and a clean
database that verifies with no breaks."""
from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from api.cli import app
from engine.audit.chain import EventWriter, legacy_hash
from engine.audit.keys import Keyring
from engine.store.connect import connect
from engine.store.tables import (
    audit_ledger,
    case_documents,
    cases,
    events,
    notices,
    outbox,
    tasks,
    timers,
)
from tests import db_support
from tests.casework import AUDIT_KEY, Engine
from tests.db_support import url as db_url
from tests.test_api_support import Api

runner = CliRunner()
SCENE: dict[str, str] = {}  # role in the scene -> case id


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory) -> Path:
    """A database with an approved, a refused and an open case (a document recorded, a task
    claimed), and a checkpoint of its whole log; then one more event after the checkpoint."""
    folder = tmp_path_factory.mktemp("scene")
    eng = Engine(folder / "okno.db")
    SCENE["approved"] = eng.start("6.1.1", applicant="Иванов И. И.")
    eng.run_to_end(SCENE["approved"])
    SCENE["refused"] = eng.start("6.1.1")
    eng.run_to_end(SCENE["refused"], outcome="refuse")
    SCENE["open"] = eng.start("6.1.1")
    eng.cases.record_document(SCENE["open"], "passport", "presented", actor="clerk-1")
    eng.cases.claim(SCENE["open"], eng.open_tasks(SCENE["open"])[0]["id"], actor="clerk-1")
    assert eng.ledger.checkpoint(eng.db, eng.cases.now()) is not None
    SCENE["late"] = eng.start("2.1")  # after the checkpoint: only its chain covers it
    if eng.db.dialect.name == "sqlite":
        with eng.db.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.db.dispose()
    return folder


@pytest.fixture
def copy(checkpointed, tmp_path, monkeypatch) -> Path:
    """A copy of the scene (database and checkpoint folder), with the CLI's settings on it."""
    db_support.duplicate(checkpointed / "okno.db", tmp_path / "okno.db")
    shutil.copytree(checkpointed / "okno-checkpoints", tmp_path / "okno-checkpoints")
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(tmp_path / "okno-checkpoints"))
    monkeypatch.setenv("OKNO_DATABASE_URL", db_url(tmp_path / 'okno.db'))
    return tmp_path


def audit_verify(*args: str):
    return runner.invoke(app, ["audit", "verify", *args])


def test_a_clean_database_verifies_with_no_breaks(copy):
    result = audit_verify()
    assert result.exit_code == 0, result.output
    assert "4 case(s) checked, 0 problem(s)" in result.output
    assert "3 checkpoint(s)" not in result.output and "1 checkpoint(s)" in result.output


# --------------------------------------------------------------------------- the tampering


def _event(conn: Connection, case_id: str, seq: int) -> dict:
    return dict(conn.execute(select(events).where(events.c.case_id == case_id, events.c.seq == seq))
                .one()._mapping)


def _last_seq(conn: Connection, case_id: str) -> int:
    return conn.execute(select(func.max(events.c.seq)).where(events.c.case_id == case_id)).scalar_one()


def edit_event(conn):
    conn.execute(update(events).where(events.c.case_id == SCENE["approved"], events.c.seq == 2)
                 .values(data='{"task": "forged"}'))


def delete_event(conn):
    conn.execute(delete(events).where(events.c.case_id == SCENE["approved"], events.c.seq == 3))


def swap_events(conn):
    a, b = _event(conn, SCENE["approved"], 2), _event(conn, SCENE["approved"], 3)
    conn.execute(update(events).where(events.c.gseq == a["gseq"]).values(seq=-1))
    conn.execute(update(events).where(events.c.gseq == b["gseq"]).values(seq=2))
    conn.execute(update(events).where(events.c.gseq == a["gseq"]).values(seq=3))


def move_event(conn):  # an event of one case given to another
    conn.execute(update(events).where(events.c.case_id == SCENE["approved"], events.c.seq == 2)
                 .values(case_id=SCENE["refused"], seq=99))


def delete_case(conn):
    case_id = SCENE["refused"]  # its refusal notice goes with it
    refusal_notices = select(notices.c.id).where(notices.c.case_id == case_id)
    conn.execute(delete(outbox).where(outbox.c.notice_id.in_(refusal_notices)))
    for table in (events, tasks, timers, case_documents, notices):
        conn.execute(delete(table).where(table.c.case_id == case_id))
    conn.execute(delete(cases).where(cases.c.id == case_id))


def delete_every_case(conn):
    for table in (outbox, notices, events, tasks, timers, case_documents, cases):
        conn.execute(delete(table))


def delete_last_event_and_head(conn):
    """The newest event of a case deleted, and the case's head set back to the one before."""
    case_id = SCENE["open"]
    last = _last_seq(conn, case_id)
    before = _event(conn, case_id, last - 1)
    conn.execute(delete(events).where(events.c.case_id == case_id, events.c.seq == last))
    conn.execute(update(cases).where(cases.c.id == case_id)
                 .values(row_version=last - 1, last_hash=before["hash"]))
    conn.execute(update(tasks).where(tasks.c.case_id == case_id).values(assignee=None))


def _rechain(conn, case_id: str, start: int, hash_of: Callable[[dict, str], str]) -> None:
    """Recompute the chain of `case_id` from event `start` on with `hash_of(row, prev)`, and
    the case's head: what an attacker who knows a formula does after editing an event."""
    prev = _event(conn, case_id, start - 1)["hash"] if start > 1 else "0" * 64
    for seq in range(start, _last_seq(conn, case_id) + 1):
        row = _event(conn, case_id, seq)
        row["prev_hash"] = prev
        row["hash"] = prev = hash_of(row, prev)
        conn.execute(update(events).where(events.c.gseq == row["gseq"])
                     .values(prev_hash=row["prev_hash"], hash=row["hash"]))
    conn.execute(update(cases).where(cases.c.id == case_id).values(last_hash=prev))


def _public_formula(row: dict, prev: str) -> str:
    return legacy_hash(row["case_id"], prev, row["seq"], row["at"], row["actor"], row["action"],
                       row["step"], row["digest"])


def _forged_data(conn, case_id: str, seq: int, data: dict) -> None:
    body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    conn.execute(update(events).where(events.c.case_id == case_id, events.c.seq == seq)
                 .values(data=body.decode(), digest=hashlib.sha256(body).hexdigest()))


def edit_and_rechain_with_sha256(conn):
    _forged_data(conn, SCENE["approved"], 2, {"task": "forged", "data": {}})
    _rechain(conn, SCENE["approved"], 2, _public_formula)


def edit_and_rechain_as_legacy(conn):
    """The same, with the events marked as written before the migration (no key id)."""
    conn.execute(update(events).where(events.c.case_id == SCENE["approved"]).values(key_id=None))
    _forged_data(conn, SCENE["approved"], 2, {"task": "forged", "data": {}})
    _rechain(conn, SCENE["approved"], 1, _public_formula)


def raise_the_legacy_point(conn):
    """Every event declared old, and rechained with the old formula."""
    top = conn.execute(select(func.max(events.c.gseq))).scalar_one()
    conn.execute(update(audit_ledger).values(legacy_through=top))
    conn.execute(update(events).where(events.c.case_id == SCENE["approved"]).values(key_id=None))
    _rechain(conn, SCENE["approved"], 1, _public_formula)


def append_forged_event(conn, key_id: str | None = None):
    """A correctly chained event (public formula) appended to a case, its head moved on."""
    case_id = SCENE["refused"]
    last = _event(conn, case_id, _last_seq(conn, case_id))
    forged = {**last, "seq": last["seq"] + 1, "action": "complete", "prev_hash": last["hash"],
              "key_id": key_id}
    forged.pop("gseq")
    forged["hash"] = _public_formula(forged, last["hash"])
    conn.execute(insert(events).values(forged))
    conn.execute(update(cases).where(cases.c.id == case_id)
                 .values(row_version=forged["seq"], last_hash=forged["hash"]))


def append_forged_event_naming_the_key(conn):
    append_forged_event(conn, _event(conn, SCENE["refused"], 1)["key_id"])


def append_event_keyed_with_another_key(conn):
    case_id = SCENE["refused"]
    last = _event(conn, case_id, _last_seq(conn, case_id))
    writer = EventWriter(Keyring.of("an-attacker-key-" + "z" * 32))
    forged = writer.new_event(case_id, last["seq"] + 1, last["hash"], last["at"], "clerk-1", "complete",
                              None, {}, {"case": {"outcome": "approved"}})
    conn.execute(insert(events).values(forged))
    conn.execute(update(cases).where(cases.c.id == case_id)
                 .values(row_version=forged["seq"], last_hash=forged["hash"], outcome="approved"))


def approve_a_refused_case(conn):
    conn.execute(text("UPDATE cases SET outcome='approved' WHERE id = :id"), {"id": SCENE["refused"]})


def change_status(conn):
    conn.execute(update(cases).where(cases.c.id == SCENE["open"]).values(status="completed"))


def change_authority(conn):
    conn.execute(update(cases).where(cases.c.id == SCENE["approved"]).values(authority="org-2"))


def change_applicant(conn):
    conn.execute(update(cases).where(cases.c.id == SCENE["approved"]).values(applicant="Петров П. П."))


def change_stored_state(conn):
    conn.execute(update(cases).where(cases.c.id == SCENE["open"]).values(state=b'{"forged": true}'))


def change_who_closed_a_task(conn):
    conn.execute(update(tasks).where(tasks.c.case_id == SCENE["approved"], tasks.c.state == "done")
                 .values(closed_by="somebody-else"))


def change_a_document(conn):
    conn.execute(update(case_documents).where(case_documents.c.case_id == SCENE["open"])
                 .values(status="requested"))


def delete_a_task(conn):
    conn.execute(delete(tasks).where(tasks.c.case_id == SCENE["open"]))


def rewrite_with_the_key(conn):
    """An attacker who holds the key but not the checkpoints: a keyed rewrite of a case's whole
    chain, facts and all, still differs from what the checkpoint signed."""
    case_id = SCENE["approved"]
    writer = EventWriter(Keyring.of(AUDIT_KEY))
    _forged_data(conn, case_id, 2, {"task": "forged", "data": {}})
    _rechain(conn, case_id, 2, lambda row, prev: writer.mac(
        row["case_id"], prev, row["seq"], row["at"], row["actor"], row["action"], row["step"],
        row["digest"], row["effects"]))


TAMPERING = [
    (edit_event, "approved", "event 2: its data was edited"),
    (delete_event, "approved", "expected event 3: an event is missing"),
    (swap_events, "approved", "does not follow the previous event"),
    (move_event, "approved", "expected event 2"),
    (delete_case, None, "case(s) begun by then are gone"),
    (delete_every_case, None, "the log holds 0 events"),
    (delete_every_case, None, "3 case(s) begun by then are gone"),
    (delete_last_event_and_head, None, "do not match the checkpoint"),
    (edit_and_rechain_with_sha256, "approved", "rechained without the key"),
    (edit_and_rechain_as_legacy, "approved", "is not keyed, but was written after migration 0009"),
    (raise_the_legacy_point, None, "the checkpoint of"),
    (append_forged_event, "refused", "is not keyed, but was written after migration 0009"),
    (append_forged_event_naming_the_key, "refused", "rechained without the key"),
    (append_event_keyed_with_another_key, "refused", "which is not in the keyring"),
    (approve_a_refused_case, "refused", "outcome is 'approved' in the database, 'refused' by its events"),
    (change_status, "open", "status is 'completed' in the database, 'open' by its events"),
    (change_authority, "approved", "authority is 'org-2' in the database, 'org-1' by its events"),
    (change_applicant, "approved", "applicant is 'Петров П. П.' in the database"),
    (change_stored_state, "open", "stored workflow state (SHA-256) is"),
    (change_who_closed_a_task, "approved", "closed_by is 'somebody-else' in the database, 'clerk-1'"),
    (change_a_document, "open", "document passport is"),
    (delete_a_task, "open", "is missing"),
    (rewrite_with_the_key, None, "an event was edited, rechained, replaced or reordered"),
]


@pytest.mark.parametrize(("tamper", "where", "says"), TAMPERING, ids=[t[0].__name__ for t in TAMPERING])
def test_audit_verify_catches_the_tampering(copy, tamper, where, says):
    db = connect(db_url(copy / 'okno.db'))
    with db.begin() as conn:
        tamper(conn)
    db.dispose()
    result = audit_verify()
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if says in line]
    assert lines, result.output
    prefix = f"case {SCENE[where]}" if where else "log: "
    assert any(line.startswith(prefix) for line in lines), result.output


def test_an_edited_or_forged_checkpoint_is_reported(copy):
    log_file = copy / "okno-checkpoints" / "checkpoints.log"
    line = orjson.loads(log_file.read_bytes().splitlines()[0])
    log_file.write_bytes(orjson.dumps({**line, "size": line["size"] - 1}) + b"\n"
                         + orjson.dumps({**line, "root": "0" * 64}) + b"\nnot json\n")
    result = audit_verify()
    assert result.exit_code == 1
    assert result.output.count("its signature does not verify") == 2
    assert "log: checkpoint line 3 is not a checkpoint" in result.output


def test_a_missing_checkpoint_folder_is_said_not_hidden(copy):
    shutil.rmtree(copy / "okno-checkpoints")
    result = audit_verify()
    assert result.exit_code == 0, result.output
    assert "note: no checkpoint in" in result.output


def test_one_case_is_checked_with_its_facts(copy):
    db = connect(db_url(copy / 'okno.db'))
    with db.begin() as conn:
        approve_a_refused_case(conn)
    result = audit_verify("--case", SCENE["approved"])
    assert result.exit_code == 0, result.output
    result = audit_verify("--case", SCENE["refused"])
    assert result.exit_code == 1 and "1 case(s) checked, 1 problem(s)" in result.output


def test_the_api_reports_a_stored_fact_its_events_do_not_record(tmp_path):
    api = Api(tmp_path)
    case = api.start("2.1")
    events_url = f"/api/cases/{case['id']}/events"
    assert api.get(events_url, "auditor").json()["chain_ok"] is True
    with api.db.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case["id"]).values(status="completed"))
    body = api.get(events_url, "auditor").json()
    assert body["chain_ok"] is False
    assert body["breaks"] == [f"case {case['id']}, case: status is 'completed' in the database, "
                              "'open' by its events"]
    assert set(body["events"][0]) >= {"seq", "hash", "prev_hash", "digest", "data"}
    assert "effects" not in body["events"][0]  # the ledger's own columns stay out of the API


def test_a_fact_edited_between_two_commands_is_not_erased_by_the_second(tmp_path):
    """The second command overwrites the edited column (or state), but its event recorded what
    it found there: `before` differs from what the events say."""
    eng = Engine(tmp_path / "okno.db")
    hidden = eng.start("6.1.1")
    eng.run_to_end(hidden)
    with eng.db.begin() as conn:  # a completed case made to look withdrawn, then archived
        conn.execute(update(cases).where(cases.c.id == hidden).values(status="withdrawn"))
    eng.cases.close(hidden, actor="clerk-1")
    edited = eng.start("6.1.1")
    with eng.db.begin() as conn:  # a stored state edited, then restored by a fresh process
        state = conn.execute(select(cases.c.state).where(cases.c.id == edited)).scalar_one()
        conn.execute(update(cases).where(cases.c.id == edited).values(state=state.replace(b"{", b"{ ", 1)))
    fresh = Engine(tmp_path / "okno.db")  # an empty live cache: the state is read from the file
    fresh.run_to_end(edited)
    found = {(b.case_id, b.seq): b.message for b in fresh.verify()[1]}
    assert set(found) == {(hidden, _count(eng, hidden)), (edited, 2)}, found
    assert "whose status was 'withdrawn', while its events say 'completed'" in found[hidden, _count(eng, hidden)]
    assert "whose stored workflow state (SHA-256) was" in found[edited, 2]


def _count(eng: Engine, case_id: str) -> int:
    with eng.db.connect() as conn:
        return _last_seq(conn, case_id)

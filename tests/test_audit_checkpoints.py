"""engine.audit.checkpoints: the worker's sweep (and `okno audit checkpoint`) signs the log's head
into a folder outside the database when the log grew; a checkpoint never blesses a rewrite."""
from __future__ import annotations

import logging

import orjson
from sqlalchemy import update
from typer.testing import CliRunner

from api.cli import app
from engine.audit.checkpoints import HEAD_FILE, LOG_FILE, read_checkpoints
from engine.audit.merkle import tree_root
from engine.runtime.scheduler import sweep
from engine.store.tables import events
from tests.casework import AUDIT_KEY, Engine
from tests.db_support import url as db_url

runner = CliRunner()


def _hashes(eng: Engine) -> list[str]:
    with eng.db.connect() as conn:
        return list(conn.exec_driver_sql("SELECT hash FROM events ORDER BY gseq").scalars())


def test_every_sweep_signs_the_head_when_the_log_grew(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    folder = eng.ledger.checkpoints
    sweep(eng.cases)
    assert not (folder / LOG_FILE).exists()  # an empty log: nothing to sign
    case_id = eng.start("2.1")
    sweep(eng.cases)
    sweep(eng.cases)  # nothing new: no second line
    eng.run_to_end(case_id)
    sweep(eng.cases)
    signed = [cp for _, cp in read_checkpoints(folder)]
    assert [cp.size for cp in signed] == [1, len(_hashes(eng))]
    assert signed[-1].root == tree_root(_hashes(eng)) and signed[-1].cases == 1
    head = orjson.loads((folder / HEAD_FILE).read_bytes())
    assert head["checkpoint"] == orjson.loads(orjson.dumps(signed[-1].__dict__))
    assert eng.verify() == (1, [])


def test_a_bad_head_file_is_rebuilt_from_the_log(tmp_path, caplog):
    eng = Engine(tmp_path / "okno.db")
    eng.start("2.1")
    eng.ledger.checkpoint(eng.db, eng.cases.now())
    head = eng.ledger.checkpoints / HEAD_FILE
    data = orjson.loads(head.read_bytes())
    data["checkpoint"]["cases"] = 5
    head.write_bytes(orjson.dumps(data))
    eng.start("2.1")
    with caplog.at_level(logging.ERROR, logger="okno.audit"):
        written = eng.ledger.checkpoint(eng.db, eng.cases.now())
    assert "does not verify: starting the tree over" in caplog.text
    assert written is not None and written.root == tree_root(_hashes(eng))
    assert eng.verify()[1] == []


def test_a_checkpoint_after_a_rewrite_does_not_bless_it(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.1")
    eng.run_to_end(case_id)
    eng.ledger.checkpoint(eng.db, eng.cases.now())
    with eng.db.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 1).values(hash="f" * 64))
    eng.start("2.1")
    assert eng.ledger.checkpoint(eng.db, eng.cases.now()) is not None  # extends the signed tree
    breaks = [str(b) for b in eng.verify()[1]]
    assert any(b.startswith("log: events 1..") for b in breaks), breaks


def test_the_cli_checkpoints_and_the_worker_does_too(tmp_path, monkeypatch):
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(tmp_path / "cp"))
    url = db_url(tmp_path / 'okno.db')
    eng = Engine(tmp_path / "okno.db")
    eng.start("2.1")
    result = runner.invoke(app, ["audit", "checkpoint", "--database", url])
    assert result.exit_code == 0 and "checkpoint: 1 event(s), root " in result.output, result.output
    result = runner.invoke(app, ["audit", "checkpoint", "--database", url])
    assert "nothing written" in result.output
    eng.start("2.1")
    result = runner.invoke(app, ["worker", "--once", "--database", url])
    assert result.exit_code == 0, result.output
    # The worker's clock is the system's: both cases are overdue by now, two more events.
    assert [cp.size for _, cp in read_checkpoints(tmp_path / "cp")] == [1, len(_hashes(eng))] == [1, 4]
    result = runner.invoke(app, ["audit", "verify", "--database", url])
    assert result.exit_code == 0 and "2 checkpoint(s), the newest of" in result.output

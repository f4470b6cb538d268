"""`okno audit verify` and `okno worker --once` on a real database file."""
from __future__ import annotations

from sqlalchemy import update
from typer.testing import CliRunner

from api.cli import app
from engine.store.tables import events
from tests.casework import AUDIT_KEY, Engine
from tests.db_support import url as db_url

runner = CliRunner()


def test_audit_verify_and_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.1")
    eng.run_to_end(case_id)
    url = db_url(tmp_path / 'okno.db')
    result = runner.invoke(app, ["audit", "verify", "--database", url])
    assert result.exit_code == 0, result.output
    assert "1 case(s) checked, 0 problem(s)" in result.output
    result = runner.invoke(app, ["worker", "--once", "--database", url])
    assert result.exit_code == 0 and "fired 0 timer(s)" in result.output
    with eng.db.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 1).values(actor="somebody-else"))
    result = runner.invoke(app, ["audit", "verify", "--database", url])
    assert result.exit_code == 1
    assert f"case {case_id}, event 1: its fields were edited" in result.output

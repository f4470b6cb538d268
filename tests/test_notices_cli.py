"""`okno worker --once` sends the notices through the OKNO_SMTP_* server; `okno notices list`
and `okno notices retry` show and restart what failed."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.casework import AUDIT_KEY, Engine
from tests.notices_support import ADDRESS, notify, outbox_row, reply
from tests.smtp_server import SmtpServer, free_port

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("OKNO_SMTP_FROM", "okno@example.by")
    monkeypatch.setenv("OKNO_SMTP_TIMEOUT", "5")
    return monkeypatch


def noticed(tmp_path, env) -> tuple[Engine, str]:
    """A notice generated now (the engine's clock is in the past: it is due at once), in the
    database the commands use."""
    eng = Engine(tmp_path / "okno.db")
    notice = reply()
    notify(eng.cases, eng.start("1.1.5"), notice)
    env.setenv("OKNO_DATABASE_URL", eng.db.url.render_as_string(hide_password=False))
    return eng, notice.id


def test_the_worker_sends_through_the_configured_server(tmp_path, env):
    eng, notice_id = noticed(tmp_path, env)
    server = SmtpServer().start()
    try:
        env.setenv("OKNO_SMTP_HOST", "127.0.0.1")
        env.setenv("OKNO_SMTP_PORT", str(server.port))
        assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
        assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    finally:
        server.stop()
    [message] = server.messages()
    assert message["To"] == ADDRESS and message["Message-ID"] == f"<notice-{notice_id}@example.by>"
    listed = runner.invoke(app, ["notices", "list", "--status", "sent"])
    assert listed.exit_code == 0, listed.output
    assert "outbox: 0 pending (0 after a failed attempt), 0 sending, 1 sent, 0 failed" in listed.output
    assert f"{notice_id}\tsent\tattempts 1\t{ADDRESS}" in listed.output


def test_without_a_server_the_worker_sends_nothing(tmp_path, env):
    eng, notice_id = noticed(tmp_path, env)
    assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    assert outbox_row(eng.db, notice_id)["status"] == "pending"
    listed = runner.invoke(app, ["notices", "list"])
    assert "outbox: 1 pending (0 after a failed attempt)" in listed.output


def test_a_failed_notice_is_listed_and_retried(tmp_path, env):
    eng, notice_id = noticed(tmp_path, env)
    env.setenv("OKNO_SMTP_HOST", "127.0.0.1")
    env.setenv("OKNO_SMTP_PORT", str(free_port()))  # nobody listens: connection refused
    env.setenv("OKNO_NOTICE_ATTEMPTS", "1")
    assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    listed = runner.invoke(app, ["notices", "list", "--failed"])
    assert listed.exit_code == 0
    assert "1 failed" in listed.output
    [row] = [line for line in listed.output.splitlines() if line.startswith(notice_id)]
    fields = row.split("\t")
    assert fields[1:4] == ["failed", "attempts 1", ADDRESS] and "ConnectionRefusedError" in fields[-1]

    retried = runner.invoke(app, ["notices", "retry", notice_id])
    assert retried.exit_code == 0 and "next sweep" in retried.output
    assert outbox_row(eng.db, notice_id)["status"] == "pending"
    again = runner.invoke(app, ["notices", "retry", notice_id])
    assert again.exit_code == 2 and "is pending, not failed" in again.output
    unknown = runner.invoke(app, ["notices", "retry", "nope"])
    assert unknown.exit_code == 2 and "no notice nope in the outbox" in unknown.output
    wrong = runner.invoke(app, ["notices", "list", "--status", "lost"])
    assert wrong.exit_code == 2 and "--status must be one of pending, sending, sent, failed" in wrong.output


def test_a_setting_okno_cannot_use_stops_the_worker(tmp_path, env):
    env.setenv("OKNO_SMTP_PORT", "70000")
    env.setenv("OKNO_SMTP_PASSWORD", "hunter2-secret")
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 2 and "OKNO_SMTP_PORT='70000'" in result.output
    env.setenv("OKNO_SMTP_PORT", "25")
    env.setenv("OKNO_SMTP_FROM", "okno <okno@example.by>\r\nBcc: x@example.by")
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 2 and "OKNO_SMTP_FROM" in result.output
    assert "hunter2-secret" not in result.output

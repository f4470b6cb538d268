"""`okno db backup|restore|upgrade` (engine/store/backup.py) on the database the suite runs on: a
SQLite file, or a PostgreSQL database of its own (OKNO_TEST_DATABASE_URL, tests/db_support.py).

A round trip keeps cases, events and users, and `okno audit verify` passes on what was restored;
a restore refuses a database that holds rows (unless --force) and a file that is not a backup,
and changes nothing then.
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, select
from typer.testing import CliRunner

from api.cli import app
from engine.accounts import add_user
from engine.store import backup as backup_module
from engine.store.connect import connect, schema_revision
from engine.store.tables import cases, events, metadata, users
from tests.casework import AUDIT_KEY, Engine
from tests.db_support import url as db_url

runner = CliRunner()


def okno(*args: str):
    return runner.invoke(app, list(args))


def snapshot(url: str) -> dict[str, list[tuple]]:
    """What a restore must bring back: every row of cases, events and users, in key order."""
    db = connect(url, create=False)
    try:
        with db.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in (cases, events, users)}
    finally:
        db.dispose()


@pytest.fixture
def office(tmp_path, monkeypatch) -> Engine:
    """A database with a closed case, an open one, two users and a checkpoint of its audit log;
    the CLI's audit settings point at its key and checkpoint folder."""
    eng = Engine(tmp_path / "okno.db")
    eng.run_to_end(eng.start("6.1.1", applicant="Иванов И. И."))
    eng.cases.record_document(eng.start("6.1.1"), "passport", "presented", actor="clerk-1")
    add_user(eng.db, "clerk", "a long enough password", "clerk", "minsk-sovetsky")
    add_user(eng.db, "ivan", "another long password", "applicant", "citizens")
    assert eng.ledger.checkpoint(eng.db, eng.cases.now()) is not None
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(eng.ledger.checkpoints))
    return eng


def test_a_round_trip_keeps_cases_events_and_users_and_the_audit_log_verifies(office, tmp_path):
    source = db_url(tmp_path / "okno.db")
    before = snapshot(source)
    assert len(before["cases"]) == 2 and len(before["events"]) > 5 and len(before["users"]) == 2
    result = okno("db", "backup", str(tmp_path / "okno.backup"), "--database", source)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "okno.backup").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".okno.backup.partial-*"))

    restored = db_url(tmp_path / "restored.db")
    result = okno("db", "restore", str(tmp_path / "okno.backup"), "--database", restored)
    assert result.exit_code == 0, result.output
    assert snapshot(restored) == before
    result = okno("audit", "verify", "--database", restored)
    assert result.exit_code == 0, result.output
    assert "2 case(s) checked, 0 problem(s)" in result.output
    assert "1 checkpoint(s)" in result.output
    result = okno("db", "upgrade", "--database", restored)  # the restored schema is at head
    assert result.exit_code == 0 and "database at revision" in result.output, result.output


def test_a_backup_holds_what_was_committed_when_it_began_not_a_transaction_in_flight(office, tmp_path):
    """The server keeps writing while the backup runs: an uncommitted row is not in it."""
    source = db_url(tmp_path / "okno.db")
    writer = office.db.execution_options(okno_write=True).connect()
    transaction = writer.begin()
    writer.execute(insert(users).values(name="half", password_hash="x", role="clerk", org="o",
                                        created_at=office.cases.now()))
    try:
        result = okno("db", "backup", str(tmp_path / "okno.backup"), "--database", source)
    finally:
        transaction.rollback()
        writer.close()
    assert result.exit_code == 0, result.output
    restored = db_url(tmp_path / "restored.db")
    assert okno("db", "restore", str(tmp_path / "okno.backup"), "--database", restored).exit_code == 0
    assert [row[0] for row in snapshot(restored)["users"]] == ["clerk", "ivan"]


def test_a_restore_over_a_database_with_rows_is_refused_unless_forced(office, tmp_path):
    source = db_url(tmp_path / "okno.db")
    assert okno("db", "backup", str(tmp_path / "okno.backup"), "--database", source).exit_code == 0
    newer = office.start("2.1")  # the database moves on after the backup
    grown = snapshot(source)

    result = okno("db", "restore", str(tmp_path / "okno.backup"), "--database", source)
    assert result.exit_code == 2
    assert "is not empty (rows in" in result.output and "--force" in result.output
    assert snapshot(source) == grown  # nothing changed

    office.db.dispose()  # the restore replaces the database: nobody may hold it
    result = okno("db", "restore", str(tmp_path / "okno.backup"), "--database", source, "--force")
    assert result.exit_code == 0, result.output
    restored = snapshot(source)
    assert newer not in {row[0] for row in restored["cases"]} and len(restored["cases"]) == 2
    assert okno("audit", "verify", "--database", source).exit_code == 0


def test_a_restore_that_fails_half_way_leaves_the_database_as_it_was(office, tmp_path):
    """A backup cut short (a full disk, a broken copy): SQLite finds it malformed before anything
    is touched; pg_restore reads its table of contents and fails while loading its rows, in the
    one transaction with the drops. Either way the database it was restored over is intact."""
    source = db_url(tmp_path / "okno.db")
    cut = tmp_path / "okno.backup"
    assert okno("db", "backup", str(cut), "--database", source).exit_code == 0
    content = cut.read_bytes()
    cut.write_bytes(content[:len(content) * 9 // 10])
    office.start("2.1")
    grown = snapshot(source)
    office.db.dispose()
    result = okno("db", "restore", str(cut), "--database", source, "--force")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: "), result.output
    assert snapshot(source) == grown
    assert okno("audit", "verify", "--database", source).exit_code == 0


def test_a_restore_into_a_database_with_the_schema_but_no_rows_needs_no_force(office, tmp_path):
    source = db_url(tmp_path / "okno.db")
    assert okno("db", "backup", str(tmp_path / "okno.backup"), "--database", source).exit_code == 0
    empty = db_url(tmp_path / "empty.db")
    assert okno("db", "upgrade", "--database", empty).exit_code == 0  # as an operator prepares it
    result = okno("db", "restore", str(tmp_path / "okno.backup"), "--database", empty)
    assert result.exit_code == 0, result.output
    assert snapshot(empty) == snapshot(source)


@pytest.mark.parametrize("content", [b"", b"not a backup\n", b"PGDMP but cut off", b"SQLite format 3\x00junk"],
                         ids=["empty", "text", "cut-pg_dump", "cut-sqlite"])
def test_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(tmp_path, content):
    target = db_url(tmp_path / "target.db")
    assert okno("db", "upgrade", "--database", target).exit_code == 0
    bad = tmp_path / "bad.backup"
    bad.write_bytes(content)
    result = okno("db", "restore", str(bad), "--database", target, "--force")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "bad.backup" in result.output \
        or "pg_restore" in result.output, result.output
    db = connect(target, create=False)
    assert schema_revision(db) is not None and set(metadata.tables) <= set(_tables(db))
    db.dispose()


def test_a_sqlite_database_that_is_not_okno_is_not_a_backup(tmp_path):
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    result = okno("db", "restore", str(other), "--database", db_url(tmp_path / "target.db"))
    assert result.exit_code == 2
    assert "is a SQLite database but not an okno one" in result.output


def test_a_backup_of_the_other_kind_of_database_is_refused(office, tmp_path):
    source = db_url(tmp_path / "okno.db")
    assert okno("db", "backup", str(tmp_path / "okno.backup"), "--database", source).exit_code == 0
    kind = office.db.dialect.name
    other = f"sqlite:///{tmp_path / 'other.db'}" if kind == "postgresql" \
        else "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = okno("db", "restore", str(tmp_path / "okno.backup"), "--database", other)
    assert result.exit_code == 2
    assert f"is a {kind} backup; the database" in result.output, result.output


def test_a_backup_does_not_replace_an_existing_file_unless_forced(office, tmp_path):
    source = db_url(tmp_path / "okno.db")
    existing = tmp_path / "okno.backup"
    existing.write_bytes(b"yesterday's")
    result = okno("db", "backup", str(existing), "--database", source)
    assert result.exit_code == 2 and "exists; choose another file or pass --force" in result.output
    assert existing.read_bytes() == b"yesterday's"
    assert okno("db", "backup", str(existing), "--database", source, "--force").exit_code == 0
    assert backup_module.backup_kind(existing) == office.db.dialect.name


def test_missing_postgresql_client_programs_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(backup_module, "TOOL_FOLDERS", str(tmp_path / "no-postgresql"))
    with pytest.raises(backup_module.BackupError, match="pg_dump not found on PATH or in"):
        backup_module.pg_tool("pg_dump")


def test_db_upgrade_creates_the_schema_once_and_then_does_nothing(tmp_path):
    url = db_url(tmp_path / "new.db")
    first = okno("db", "upgrade", "--database", url)
    assert first.exit_code == 0 and "upgraded from nothing to revision" in first.output, first.output
    again = okno("db", "upgrade", "--database", url)
    head = first.output.split()[-1]
    assert again.exit_code == 0 and again.output.strip() == f"database at revision {head}"
    db = connect(url, create=False)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar_one() == 0
    db.dispose()


def _tables(db) -> list[str]:
    with db.connect() as conn:
        return inspect(conn).get_table_names()


@pytest.mark.sqlite_only
def test_the_backup_file_of_sqlite_is_one_file(office, tmp_path):
    target = tmp_path / "okno.backup"
    assert okno("db", "backup", str(target), "--database", db_url(tmp_path / "okno.db")).exit_code == 0
    assert not Path(f"{target}-wal").exists()
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

"""engine/store/connect.py: processes upgrading a new database at once; on a database server, the
pool and times in UTC whatever the server's TimeZone. (SQLite's file modes and pragmas:
tests/test_private_files.py.)"""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from engine.store.connect import POOL_OVERFLOW, POOL_SIZE, connect, schema_revision, upgrade_schema
from engine.store.tables import users
from tests.db_support import on_postgres
from tests.db_support import url as db_url

postgres_only = pytest.mark.skipif(not on_postgres(), reason="needs OKNO_TEST_DATABASE_URL (PostgreSQL)")


@postgres_only
def test_a_server_in_another_time_zone_still_reads_and_counts_in_utc(tmp_path):
    url = db_url(tmp_path / "okno.db")
    db = connect(url)
    with db.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{db.url.database}" SET timezone TO \'Europe/Minsk\''))
        conn.commit()
    db.dispose()
    db = connect(url)  # new sessions: Minsk is the database's default now
    late = datetime(2025, 6, 18, 22, 30, tzinfo=UTC)  # already the 19th in Minsk
    with db.begin() as conn:
        assert conn.execute(text("SHOW TIME ZONE")).scalar_one() == "UTC"
        conn.execute(insert(users).values(name="n", password_hash="x", role="clerk", org="o",
                                          created_at=late))
    with db.connect() as conn:
        stored = conn.execute(select(users.c.created_at)).scalar_one()
        day = conn.execute(text("SELECT CAST(created_at AS DATE) FROM users")).scalar_one()
    assert stored == late and stored.utcoffset().total_seconds() == 0
    assert day.isoformat() == "2025-06-18"
    db.dispose()


@postgres_only
def test_a_server_database_gets_a_checked_pool(tmp_path):
    db = connect(db_url(tmp_path / "okno.db"))
    assert db.pool.size() == POOL_SIZE and db.pool._max_overflow == POOL_OVERFLOW
    assert db.pool._pre_ping
    db.dispose()


def test_processes_starting_at_once_on_a_new_database_all_find_the_schema(tmp_path):
    """`okno serve --workers 4` on an empty database: each worker upgrades the schema when it
    starts; they take turns (BEGIN IMMEDIATE; an advisory lock on PostgreSQL), none fails."""
    url = db_url(tmp_path / "okno.db")
    connect(url, create=False).dispose()  # the (empty) database exists, no schema yet
    engines = [connect(url, create=False) for _ in range(4)]
    start = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def upgrade(engine) -> None:
        start.wait()
        try:
            upgrade_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=upgrade, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert {schema_revision(engine) for engine in engines} == {schema_revision(engines[0])} != {None}
    for engine in engines:
        engine.dispose()

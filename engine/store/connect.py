"""Connecting to the database and bringing its schema to the newest version (Alembic).

The URL comes from the caller (the `database_url` setting, read by the entry point): SQLite (the
default, one file) or PostgreSQL (`postgresql+psycopg://…`, the `postgres` extra). A SQLite file
holds password hashes and personal data: okno creates it (and a folder it needs) readable by the
service's user only, and SQLite gives the WAL and shared-memory files the database file's mode.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine

from engine.private_files import ensure_private_file, open_to_others
from engine.store.tables import metadata

DEFAULT_URL = "sqlite:///var/okno.db"
# Connections one process keeps to a database server (PostgreSQL): the API serves requests on
# up to 40 threads, most of which hold a connection only for a command's few statements.
POOL_SIZE = 10
POOL_OVERFLOW = 20
POOL_TIMEOUT = 30
log = logging.getLogger("okno.store")


def connect(url: str = DEFAULT_URL, *, create: bool = True) -> Engine:
    """An Engine for `url`; SQLite gets WAL, a busy timeout and foreign keys. Creates the schema."""
    path = sqlite_file(url)
    # 0600 (and its folder 0700) before SQLite creates it 0644; the WAL and shm files follow it
    if path is not None and not ensure_private_file(path) and open_to_others(path):
        log.warning("%s may be read by other users of this machine (it holds password hashes "
                    "and personal data): chmod 600 %s*", path, path)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, future=True)
    else:
        # A server: connections are checked before use (a restarted server or a dropped idle
        # connection costs a reconnect, not a failed request) and renewed after an hour. A
        # process holds up to POOL_SIZE + POOL_OVERFLOW; a request waits POOL_TIMEOUT s for one.
        engine = create_engine(url, future=True, pool_pre_ping=True, pool_size=POOL_SIZE,
                               max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT,
                               pool_recycle=3600)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_session)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling is off (see _sqlite_pragmas); commands that write take
        # the write lock up front, so a second writer waits instead of failing mid-transaction.
        event.listen(engine, "begin", _sqlite_begin)
    if create:
        upgrade_schema(engine)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another database, memory, a `file:` URI)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:") or parsed.query.get("uri"):
        return None
    return Path(database)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_LOCK = 0x6F6B6E6F  # "okno": the advisory lock schema upgrades take on PostgreSQL


def upgrade_schema(engine: Engine) -> None:
    """Create a new database at the newest schema, or migrate an existing one to it (Alembic)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(okno_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            # processes starting at once (`okno serve --workers 4`) upgrade one after the other,
            # as BEGIN IMMEDIATE makes them on SQLite; the lock ends with the transaction
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK})")
        config.attributes["connection"] = conn
        if not inspect(conn).has_table("cases"):
            metadata.create_all(conn)
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")


def head_revision() -> str:
    """The newest migration this okno ships (Alembic's head)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def schema_revision(engine: Engine) -> str | None:
    """The migration the database's schema is at (None: not created by okno)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _sqlite_begin(conn) -> None:
    write = conn.get_execution_options().get("okno_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgresql_session(dbapi_conn, _record) -> None:
    """Times are read back in UTC whatever the server's TimeZone (a server in Minsk would return
    timestamptz values at +03:00, and date arithmetic in SQL would count Minsk days)."""
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_conn.autocommit = autocommit


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA mmap_size=268435456")
    # Checkpoint every ~40 MB of WAL instead of every 4 MB: pages rewritten by many commands are
    # copied back once, and the checkpoint's fsync is paid ten times less often (measured:
    # 10-15 % per command). The WAL file may grow to that size between checkpoints.
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()



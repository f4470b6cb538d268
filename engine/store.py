"""Tables and the database connection (SQLAlchemy Core, portable SQL: SQLite now, PostgreSQL next).

Layout, chosen after measuring (see docs/engine.md):
- `cases` holds one row per case with the workflow state as one JSON document *without* its spec
  (the spec is parsed once per procedure version and kept in memory), plus the columns the
  queries need (status, authority, due date) and `row_version` for optimistic concurrency;
- `tasks` is the side table clerks query (role, assignee, authority, state, due date), written in
  the same transaction as the case, so work lists never load a workflow;
- `timers` holds due times of waiting timer events, so the worker finds due work by an index;
- `events` is the append-only, hash-chained audit trail; `case_documents` the checklist state.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

procedure_versions = Table(
    "procedure_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("number", String(32), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("definition", Text, nullable=False),
    Column("bpmn_xml", Text),
    # The BPMN compiled from `steps` when the version was published: cases run this text, not
    # what the current compiler makes of the definition. NULL for a drawn BPMN (`bpmn_xml` is it).
    Column("compiled_xml", Text),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("seq", Integer, nullable=False),  # load order: the newest version of a number wins
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(32), nullable=False),
    Column("version", String(64), ForeignKey("procedure_versions.version"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("ground", String(64)),
    Column("applicant", String(128), nullable=False),  # as the application names them
    # The applicant's okno account, when they have one: the only link that lets an applicant see
    # a case (a name typed by a clerk never does, whatever user it happens to match).
    Column("applicant_user", String(128)),
    Column("channel", String(16), nullable=False),
    Column("authority", String(128), nullable=False),
    Column("category", String(64)),
    Column("exempt", Boolean, nullable=False, default=False),
    Column("fee", Float, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("documents_requested", Boolean, nullable=False, default=False),
    Column("suspended_on", Date),
    # Calendar days the case was suspended since its term started counting: the due date is the
    # legal term's last day moved by them (kept so that a later extension keeps the pauses).
    Column("paused_days", Integer, nullable=False, default=0, server_default="0"),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("row_version", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("state_format", String(32), nullable=False),
    # Case lists come newest first, a page at a time: each list has an index in that order, so a
    # page is an index range, not a sort of every case of the authority (measured with 200,000
    # cases: 290 ms -> 20 ms, most of it the total count). The step path never writes these
    # columns, so the indexes cost nothing per step.
    Index("ix_cases_started", "started_at", "id"),
    Index("ix_cases_authority_started", "authority", "started_at", "id"),
    Index("ix_cases_authority_status", "authority", "status", "started_at", "id"),
    Index("ix_cases_authority_overdue", "authority", "overdue", "started_at", "id"),
    Index("ix_cases_applicant", "applicant"),
    Index("ix_cases_applicant_user", "applicant_user"),
    Index("ix_cases_open_due", "status", "overdue", "due_date"),
    Index("ix_cases_number", "number"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("step", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("role", String(64), nullable=False),
    Column("acts_as", String(16), nullable=False),
    Column("authority", String(128), nullable=False),
    Column("state", String(16), nullable=False),  # open, done, cancelled
    Column("assignee", String(128)),
    Column("due_date", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(128)),
    Index("ix_tasks_worklist", "authority", "acts_as", "state", "due_date"),
    Index("ix_tasks_assignee", "assignee", "state"),
)

timers = Table(
    "timers",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("task_id", String(36), primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
)

events = Table(
    "events",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("step", String(64)),
    Column("data", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

case_documents = Table(
    "case_documents",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("document", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # presented, requested, received
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
)

DEFAULT_URL = "sqlite:///var/okno.db"


def database_url() -> str:
    """OKNO_DATABASE_URL, or an SQLite file under var/."""
    return os.environ.get("OKNO_DATABASE_URL", DEFAULT_URL)


def connect(url: str | None = None, *, create: bool = True) -> Engine:
    """An Engine for `url`; SQLite gets WAL, a busy timeout and foreign keys. Creates the schema."""
    url = url or database_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling is off (see _sqlite_pragmas); commands that write take
        # the write lock up front, so a second writer waits instead of failing mid-transaction.
        event.listen(engine, "begin", _sqlite_begin)
    if create:
        upgrade_schema(engine)
    return engine


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def all_tables_metadata() -> MetaData:
    """The metadata with every table registered (some live beside the code that uses them)."""
    import engine.accounts  # noqa: F401  (users, idempotency)

    return metadata


def upgrade_schema(engine: Engine) -> None:
    """Create a new database at the newest schema, or migrate an existing one to it (Alembic)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(okno_write=True).begin() as conn:
        config.attributes["connection"] = conn
        if not inspect(conn).has_table("cases"):
            all_tables_metadata().create_all(conn)
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")


def _sqlite_begin(conn) -> None:
    write = conn.get_execution_options().get("okno_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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


class Prepared:
    """A statement compiled once for a dialect and run straight on the DBAPI cursor.

    Every command runs the same few statements; going through SQLAlchemy's execution machinery
    for each cost more than SQLite itself (see docs/engine.md). The SQL is still SQLAlchemy's own
    portable rendering, and values go through the column types' own bind and result processors,
    so rows read back through Core are exactly as if Core had written them.
    """

    def __init__(self, stmt, dialect, columns=()) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        self.order = tuple(compiled.positiontup or ()) if self.positional else ()
        self.binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self.binds = {name: proc for name, proc in self.binds.items() if proc is not None}
        # Literals in the statement (`state == 'open'`) became binds with their value attached.
        self.literals = {name: bind.value for name, bind in compiled.binds.items()
                         if bind.value is not None}
        self.columns = tuple(col.key for col in columns)
        self.results = tuple(_result_processor(col, dialect) for col in columns)
        # Positional (SQLite): per parameter, its literal or its bind processor, in order.
        self.plan = tuple((name, name in self.literals, self.binds.get(name)) for name in self.order)

    def params(self, values: dict):
        if self.positional:
            literals = self.literals
            return tuple(literals[name] if literal else (proc(values[name]) if proc else values[name])
                         for name, literal, proc in self.plan)
        if self.literals:
            values = {**self.literals, **values}
        if self.binds:
            values = dict(values)
            for name, proc in self.binds.items():
                if name in values:
                    values[name] = proc(values[name])
        return values

    def run(self, cursor, values: dict) -> int:
        cursor.execute(self.sql, self.params(values))
        return cursor.rowcount

    def run_many(self, cursor, rows: list[dict]) -> None:
        cursor.executemany(self.sql, [self.params(row) for row in rows])

    def one(self, cursor, values: dict) -> dict | None:
        """The first row as a dict keyed by column, values converted as Core would."""
        cursor.execute(self.sql, self.params(values))
        row = cursor.fetchone()
        if row is None:
            return None
        return {key: (proc(value) if proc is not None and value is not None else value)
                for key, proc, value in zip(self.columns, self.results, row, strict=True)}


def _result_processor(column, dialect):
    """The column type's own conversion of fetched values; None where the driver's value is final
    (psycopg returns native floats and wants the wire type code, which a raw cursor does not give)."""
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None)
    except TypeError:
        return None


class RawTransactions:
    """Transactions on pooled DBAPI connections, for the hot path of commands.

    `hold()` keeps one pooled connection for the blocks a command runs (its reads, then its write
    transaction), so a command checks a connection out of the pool once instead of per block.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._held = threading.local()

    def prepare(self, stmt, columns=()) -> Prepared:
        return Prepared(stmt, self.engine.dialect, columns)

    def read(self):
        return _RawBlock(self, write=False)

    def write(self):
        return _RawBlock(self, write=True)

    @contextlib.contextmanager
    def hold(self):
        if getattr(self._held, "conn", None) is not None:  # nested: the outer hold owns it
            yield
            return
        self._held.conn = self.engine.raw_connection()
        try:
            yield
        finally:
            conn, self._held.conn = self._held.conn, None
            conn.close()  # back to the pool

    def _checkout(self):
        held = getattr(self._held, "conn", None)
        return (held, False) if held is not None else (self.engine.raw_connection(), True)


class _RawBlock:
    def __init__(self, owner: RawTransactions, write: bool) -> None:
        self.owner, self.write = owner, write

    def __enter__(self):
        self.conn, self.own = self.owner._checkout()
        self.cursor = self.conn.cursor()
        if self.owner.sqlite and self.write:  # a read is one autocommitted SELECT: no BEGIN
            self.cursor.execute("BEGIN IMMEDIATE")
        return self.cursor

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.owner.sqlite:
                if self.write:
                    self.cursor.execute("ROLLBACK" if exc_type else "COMMIT")
            elif exc_type or not self.write:
                self.conn.rollback()
            else:
                self.conn.commit()
        finally:
            self.cursor.close()
            if self.own:
                self.conn.close()  # back to the pool

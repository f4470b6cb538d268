"""The one raw fast path: statements compiled once per dialect and run on pooled DBAPI connections.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine


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
        return None if row is None else self._row(row)

    def all(self, cursor, values: dict) -> list[dict]:
        """Every row, as `one` gives the first (for short lists: a case's documents)."""
        cursor.execute(self.sql, self.params(values))
        return [self._row(row) for row in cursor.fetchall()]

    def _row(self, row) -> dict:
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
    """Transactions on pooled DBAPI connections, for the hot path of commands and its reads.

    `hold()` keeps one pooled connection for the blocks a command runs (its reads, then its write
    transaction), so a command checks a connection out of the pool once instead of per block.
    One per Engine (`for_engine`), so the reads a request makes before its command share the hold.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._held = threading.local()
        self._reads: dict[int, tuple[Any, Prepared]] = {}

    def rows(self, stmt, params: dict) -> list[tuple]:
        """All rows of a prebuilt SELECT (a module constant), raw: for columns that need no type
        conversion on read. No transaction: one autocommitted statement."""
        hit = self._reads.get(id(stmt))
        if hit is None or hit[0] is not stmt:
            hit = self._reads[id(stmt)] = (stmt, self.prepare(stmt))
        prepared = hit[1]
        with self.read() as cursor:
            cursor.execute(prepared.sql, prepared.params(params))
            return cursor.fetchall()

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

    @contextlib.contextmanager
    def claimed(self, prepared: Prepared, values: dict):
        """Within `hold()`: run `prepared`, a SELECT that locks what it finds (`FOR UPDATE SKIP
        LOCKED`), and yield whether it found a row. On PostgreSQL its transaction stays open for
        the block: the block's reads and its write run in it, so no other transaction can take
        the locked rows before the block commits (at its end; an error rolls it back), and a row
        another transaction holds is skipped, not waited for. SQLite has no row locks (and
        SQLAlchemy renders no FOR UPDATE for it): the SELECT is one autocommitted statement, the
        block runs as usual, and the write's row-version check is what keeps two writers apart."""
        conn = getattr(self._held, "conn", None)
        if conn is None:
            raise RuntimeError("claimed() runs within hold(): one connection for the claim and its work")
        cursor = conn.cursor()
        try:
            cursor.execute(prepared.sql, prepared.params(values))
            found = cursor.fetchone() is not None
        except BaseException:
            if not self.sqlite:
                conn.rollback()
            raise
        finally:
            cursor.close()
        if self.sqlite:
            yield found
            return
        if not found:
            conn.rollback()
            yield False
            return
        self._held.claim = True
        try:
            yield True
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            self._held.claim = False

    def _in_claim(self) -> bool:
        return getattr(self._held, "claim", False)

    def _checkout(self):
        held = getattr(self._held, "conn", None)
        return (held, False) if held is not None else (self.engine.raw_connection(), True)


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, RawTransactions] = weakref.WeakKeyDictionary()
_BY_ENGINE_LOCK = threading.Lock()


def for_engine(engine: Engine) -> RawTransactions:
    """The RawTransactions of `engine` (made on first use)."""
    raw = _BY_ENGINE.get(engine)
    if raw is None:
        with _BY_ENGINE_LOCK:
            raw = _BY_ENGINE.get(engine)
            if raw is None:
                raw = _BY_ENGINE[engine] = RawTransactions(engine)
    return raw


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
            if self.owner._in_claim() and not self.own:
                pass  # the claim's transaction: committed or rolled back when the claim ends
            elif self.owner.sqlite:
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

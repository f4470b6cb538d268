"""Backing a database up to one file and restoring it (`okno db backup|restore`).

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies the database page by
page as of one moment, consistent while the server and the worker keep writing; the file is an
ordinary SQLite database (journal mode DELETE: one file, no WAL beside it).
PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, taken while the server runs) and
`pg_restore`, found on PATH or in /usr/lib/postgresql/*/bin (the newest: pg_dump must be at least
the server's version).

Both write the backup to a temporary file beside the target, 0600 (it holds password hashes and
personal data), and rename it into place, so a failed backup never leaves half a file under the
target's name. A restore refuses a file that is not an okno backup of the same kind of database,
and a database that holds rows unless forced; it brings back exactly the backup: a backup from an
older okno is migrated by the next `okno db upgrade` (or start).
"""
from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from sqlalchemy import inspect, make_url, select, table, text

from engine.errors import OknoError
from engine.private_files import create_private_file, ensure_private_file
from engine.store.connect import connect, sqlite_file

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
TOOL_FOLDERS = "/usr/lib/postgresql/*/bin"
TIMEOUT = 6 * 3600  # seconds a pg_dump or pg_restore may take before it is stopped


class BackupError(OknoError):
    """A backup or restore was refused or failed; the target is left as it was."""


def backup(url: str, target: Path, *, force: bool = False) -> None:
    """Write a backup of the database at `url` to the file `target` (not over an existing file
    unless `force`)."""
    target = Path(target)
    if target.exists() and not force:
        raise BackupError(f"{target} exists; choose another file or pass --force to replace it")
    if target.is_dir():
        raise BackupError(f"{target} is a folder, not a file")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with suppress(FileNotFoundError):
        partial.unlink()
    fd = create_private_file(partial)
    try:
        if _backend(url) == "sqlite":
            os.close(fd)
            fd = -1
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            with _libpq(url, partial.parent) as dbname:
                _run_pg("pg_dump", ["--format=custom", "--no-password", f"--dbname={dbname}"], stdout=fd)
        os.replace(partial, target)
    finally:
        if fd >= 0:
            os.close(fd)
        with suppress(FileNotFoundError):
            partial.unlink()


def restore(url: str, source: Path, *, force: bool = False) -> None:
    """Replace the database at `url` by the backup in `source`; refused if the database holds any
    row unless `force`."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    backend = _backend(url)
    kind = backup_kind(source)
    if kind != backend:
        raise BackupError(f"{source} is a {kind} backup; the database {_shown(url)} is {backend}")
    holding = tables_with_rows(url)
    if holding and not force:
        raise BackupError(f"the database {_shown(url)} is not empty (rows in {', '.join(holding)}); "
                          "pass --force to replace what it holds")
    if backend == "sqlite":
        _sqlite_restore(source, _sqlite_path(url))
    else:
        _pg_restore(url, source)


def backup_kind(path: Path) -> str:
    """'sqlite' or 'postgresql': which database `path` is an okno backup of; BackupError if it
    is not one."""
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a readable SQLite database: {exc}") from None
        if not {"alembic_version", "cases"} <= names:
            raise BackupError(f"{path} is a SQLite database but not an okno one (no cases, "
                              "no alembic_version table)")
        return "sqlite"
    if head.startswith(PG_MAGIC):
        listing = _run_pg("pg_restore", ["--list", str(path)], capture=True)
        if not any(" TABLE " in line and " alembic_version " in line for line in listing.splitlines()):
            raise BackupError(f"{path} is a pg_dump archive but not of an okno database "
                              "(no alembic_version table)")
        return "postgresql"
    raise BackupError(f"{path} is not an okno backup (neither a SQLite database nor a pg_dump "
                      "custom-format archive)")


def tables_with_rows(url: str) -> list[str]:
    """The tables of the database at `url` that hold at least one row (alembic's own aside)."""
    if _backend(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return []
    engine = connect(url, create=False)
    try:
        with engine.connect() as conn:
            names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
            return [name for name in names
                    if conn.execute(select(text("1")).select_from(table(name)).limit(1)).first()]
    finally:
        engine.dispose()


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.execute("PRAGMA busy_timeout=5000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # the backup is one file, nothing beside it


def _sqlite_restore(source: Path, target: Path) -> None:
    ensure_private_file(target)
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        dst.execute("PRAGMA busy_timeout=5000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")  # as okno runs it


def _pg_restore(url: str, source: Path) -> None:
    """pg_restore's SQL, after dropping every table the database holds (no table of a newer
    schema may stay), run by psql as one transaction: a failure leaves the database as it was."""
    engine = connect(url, create=False)
    try:
        with engine.connect() as conn:
            drops = "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n'
                            for name in inspect(conn).get_table_names())
    finally:
        engine.dispose()
    with _libpq(url, source.parent) as dbname:
        script = subprocess.Popen([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-",
                                   str(source)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        psql = subprocess.Popen([pg_tool("psql"), "--no-psqlrc", "--quiet", "--no-password",
                                 "--single-transaction", "--set=ON_ERROR_STOP=1", "--file=-",
                                 f"--dbname={dbname}"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            psql.stdin.write(b"SET client_min_messages = warning;\n" + drops.encode())
            shutil.copyfileobj(script.stdout, psql.stdin, 1 << 20)
            psql.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: its message says which
            pass
        finally:
            script.stdout.close()
        failures = [(name, proc.wait(timeout=TIMEOUT), proc.stderr.read())
                    for name, proc in (("pg_restore", script), ("psql", psql))]
    for name, code, message in failures:
        if code != 0:
            raise BackupError(f"{name} failed (exit {code}), the database is as it was: "
                              f"{message.decode(errors='replace').strip()}")


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: PATH first, else the newest installed."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"{TOOL_FOLDERS}/{name}"), key=_major)
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} not found on PATH or in {TOOL_FOLDERS}: install PostgreSQL's client "
                      "programs (Debian: apt-get install postgresql-client)")


def _major(path: str) -> int:
    """15 for /usr/lib/postgresql/15/bin/pg_dump."""
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def _run_pg(name: str, args: list[str], *, stdout: int | None = None, capture: bool = False) -> str:
    try:
        done = subprocess.run([pg_tool(name), *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE if capture else stdout,
                              stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise BackupError(f"{name} failed (exit {done.returncode}): {message}")
    return done.stdout.decode(errors="replace") if capture else ""


@contextmanager
def _libpq(url: str, folder: Path) -> Iterator[str]:
    """The URL as libpq reads it, without the driver's name. A password goes into a temporary
    0600 password file the URL names (`passfile`), never onto the command line, where ps shows it."""
    parsed = make_url(url)
    password = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    if password is None:
        yield plain.render_as_string(hide_password=False)
        return
    passfile = folder / f".okno-pgpass-{os.getpid()}"
    with suppress(FileNotFoundError):
        passfile.unlink()
    fd = create_private_file(passfile)
    try:
        escaped = str(password).replace("\\", "\\\\").replace(":", "\\:")
        os.write(fd, f"*:*:*:*:{escaped}\n".encode())
        os.close(fd)
        yield plain.update_query_dict({"passfile": str(passfile)}).render_as_string(hide_password=False)
    finally:
        passfile.unlink(missing_ok=True)


def _backend(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {backend} database: okno runs on sqlite or postgresql")
    return backend


def _sqlite_path(url: str) -> Path:
    path = sqlite_file(url)
    if path is None:
        raise BackupError(f"{url} names no SQLite file (memory or a file: URI) to back up")
    return path


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)

"""The database a test runs on: a SQLite file, or a fresh PostgreSQL database of its own.

`OKNO_TEST_DATABASE_URL` unset (the default, `make test`): a test's database is the SQLite file at
the path it names (`url(tmp_path / "okno.db")` is `sqlite:///…/okno.db`).

`OKNO_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55431/postgres` (`make
test-postgres`): the same call creates an empty database `okno_t_<worker>_<pid>_<n>` on that
server and writes its URL into the file at the path, so the path still stands for the database:
a second `url(path)` (or another process given the URL) reopens it, `path.exists()` still says
whether it was made. A template (tests/templates.py) is copied with `CREATE DATABASE … TEMPLATE`,
the analogue of copying the file. Each test's databases are dropped when it ends (the autouse
fixture in tests/conftest.py); the templates and those of wider-scoped fixtures when the session
ends.

Tests about SQLite itself (file modes, WAL, the file's own bytes) carry `@pytest.mark.sqlite_only`.
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

SERVER_URL = os.environ.get("OKNO_TEST_DATABASE_URL", "").strip()
PREFIX = "okno_t_"

if SERVER_URL and make_url(SERVER_URL).get_backend_name() != "postgresql":
    raise RuntimeError(f"OKNO_TEST_DATABASE_URL must be a postgresql+psycopg:// URL, not {SERVER_URL!r}")

_names = itertools.count()
_admin: Engine | None = None
_created: list[str] = []  # databases this process made, oldest first, not yet dropped
_templates: list[str] = []  # dropped when the session ends only


def backend() -> str:
    """'postgresql' when the suite runs on a PostgreSQL server, else 'sqlite'."""
    return "postgresql" if SERVER_URL else "sqlite"


def on_postgres() -> bool:
    return bool(SERVER_URL)


def url(path: Path, *, template: bool = False) -> str:
    """The URL of the test database at `path`: made (empty) the first time, reopened after.
    A `template` lives until the session ends (tests/templates.py builds them)."""
    if not SERVER_URL:
        return f"sqlite:///{path}"
    if path.exists():
        return path.read_text().strip()
    return _claim(path, None, _templates if template else _created)


def duplicate(source: Path, target: Path) -> None:
    """Make the database at `target` a copy of the one at `source`, whose engines are closed
    (a SQLite file checkpointed: the copy takes the main file only)."""
    if not SERVER_URL:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return
    _claim(target, make_url(url(source)).database, _created)


def created_count() -> int:
    """How many databases this process has made and not dropped (for drop_since)."""
    return len(_created)


def drop_since(count: int) -> None:
    """Drop the databases made after the first `count` (a test's own, when it ends)."""
    while len(_created) > count:
        _drop(_created.pop())


def drop_all() -> None:
    drop_since(0)
    while _templates:
        _drop(_templates.pop())
    if _admin is not None:
        _admin.dispose()


def _claim(path: Path, template: str | None, into: list[str]) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{PREFIX}{worker}_{os.getpid()}_{next(_names)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with _server().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    into.append(name)
    database_url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(database_url + "\n")
    return database_url


def _drop(name: str) -> None:
    with _server().connect() as conn:  # FORCE: a server process of the test may still hold it
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _server() -> Engine:
    global _admin
    if _admin is None:
        _admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    return _admin

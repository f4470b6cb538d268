"""The PostgreSQL server the benchmarks use, when there is one: `OKNO_BENCH_DATABASE_URL`, a
`postgresql+psycopg://user@host:port/postgres` URL of a server the benchmarks may create and drop
databases on (their names start with `okno_`). Without it the benchmarks run on SQLite only.
"""
from __future__ import annotations

import os

from sqlalchemy import create_engine, make_url, text


def server_url() -> str | None:
    return os.environ.get("OKNO_BENCH_DATABASE_URL") or None


def database_url(server: str, name: str) -> str:
    """The URL of database `name` on the server of `server`."""
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def fresh_database(server: str, name: str) -> str:
    """An empty database `name` on the server (dropped first if it exists); its URL."""
    if not name.startswith("okno_"):
        raise ValueError(f"benchmark databases are named okno_*, not {name!r}")
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(server, name)

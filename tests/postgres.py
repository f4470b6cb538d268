"""A fresh PostgreSQL database per test, on the server the suite is pointed at.

`OKNO_TEST_DATABASE_URL` names a PostgreSQL server (any database on it: the tests create their
own beside it and drop it afterwards); without it the PostgreSQL tests skip.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

SERVER_URL = os.environ.get("OKNO_TEST_DATABASE_URL", "")


@contextlib.contextmanager
def fresh_database(prefix: str = "okno_t") -> Iterator[str]:
    """The URL of a new, empty database (dropped afterwards); skips without a server."""
    if not SERVER_URL.startswith("postgresql"):
        pytest.skip("OKNO_TEST_DATABASE_URL names no PostgreSQL server")
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

"""The schema comes from Alembic migrations; a new database is created at head and stamped."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from engine.store import MIGRATIONS, all_tables_metadata, connect


def _config(conn) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_migrations_build_exactly_the_tables_the_code_declares(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as conn:
        command.upgrade(_config(conn), "head")
        diff = compare_metadata(MigrationContext.configure(conn), all_tables_metadata())
    assert diff == []


def test_connect_creates_at_head_and_upgrades_idempotently(tmp_path):
    url = f"sqlite:///{tmp_path / 'okno.db'}"
    engine = connect(url)
    with engine.connect() as conn:
        head = MigrationContext.configure(conn).get_current_revision()
        assert head is not None
        assert {"cases", "tasks", "events", "users", "idempotency"} <= set(inspect(conn).get_table_names())
    connect(url)  # an existing database: upgrade to head is a no-op
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head

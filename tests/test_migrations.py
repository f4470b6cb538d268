"""The schema comes from Alembic migrations; a new database is created at head and stamped.

On the database the suite runs on (SQLite, or PostgreSQL with OKNO_TEST_DATABASE_URL): every
migration runs from an empty database, and what they build is what `metadata.create_all` builds.
"""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from engine.store.connect import MIGRATIONS, connect
from engine.store.tables import metadata
from tests.db_support import url as db_url


def _config(conn) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_migrations_build_exactly_the_tables_the_code_declares(tmp_path):
    engine = create_engine(db_url(tmp_path / 'migrated.db'))
    with engine.begin() as conn:
        command.upgrade(_config(conn), "head")
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def schema(conn) -> dict[str, dict]:
    """Everything the database says about its tables: columns (type, nullability, default),
    primary key, foreign keys, indexes and unique constraints."""
    found = inspect(conn)
    described = {}
    for name in sorted(found.get_table_names()):
        described[name] = {
            # by name: a migration adds a column at the end, create_all where it is declared
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                              for c in found.get_columns(name)),
            "primary key": (found.get_pk_constraint(name)["name"],
                            found.get_pk_constraint(name)["constrained_columns"]),
            "foreign keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                    tuple(fk["referred_columns"]))
                                   for fk in found.get_foreign_keys(name)),
            "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                              for ix in found.get_indexes(name)),
            "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
        }
    return described


def test_upgrading_from_empty_builds_the_schema_create_all_builds(tmp_path):
    """`connect` creates a new database with `metadata.create_all` and stamps it at head; one
    migrated from nothing through every revision must be the same, to the index."""
    migrated = create_engine(db_url(tmp_path / "migrated.db"))
    with migrated.begin() as conn:
        command.upgrade(_config(conn), "head")
    created = connect(db_url(tmp_path / "created.db"))
    with migrated.connect() as a, created.connect() as b:
        assert MigrationContext.configure(a).get_current_revision() \
            == MigrationContext.configure(b).get_current_revision() is not None
        assert schema(a) == schema(b)
        assert set(schema(a)) == set(metadata.tables) | {"alembic_version"}
    migrated.dispose()
    created.dispose()


def test_connect_creates_at_head_and_upgrades_idempotently(tmp_path):
    url = db_url(tmp_path / 'okno.db')
    engine = connect(url)
    with engine.connect() as conn:
        head = MigrationContext.configure(conn).get_current_revision()
        assert head is not None
        assert {"cases", "tasks", "events", "users", "idempotency"} <= set(inspect(conn).get_table_names())
    connect(url)  # an existing database: upgrade to head is a no-op
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


_VERSION_ROW = ("INSERT INTO procedure_versions (version, number, name, definition, bpmn_xml, source, "
                "loaded_at, seq) VALUES ('v', '1.1', 'n', '{}', :bpmn, 's', '2025-06-18 07:00:00', 1)")
_CASE_COLUMNS = ("id, number, version, status, applicant, channel, authority, exempt, fee, started_at, "
                 "start_date, due_date, documents_requested, overdue, row_version, last_hash, state, "
                 "state_format")
_CASE_VALUES = (":id, '1.1', 'v', 'open', :applicant, 'post', 'o', '0', 0, '2025-06-18 07:00:00', "
                "'2025-06-18', '2025-07-03', '0', '0', 1, 'h', :state, 'f'")


def _upgraded_from(tmp_path, revision: str, cases=(), users=(), bpmn: str | None = None):
    """A database at `revision` holding one procedure version and the given cases (id, applicant)
    and users (name, role), then upgraded to head the way the server does (`connect`)."""
    url = db_url(tmp_path / f"at_{revision}.db")
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
        conn.execute(text(_VERSION_ROW), {"bpmn": bpmn})
        for name, role in users:
            conn.execute(text("INSERT INTO users (name, password_hash, role, org, created_at) "
                              "VALUES (:name, 'x', :role, 'o', '2025-06-18 07:00:00')"),
                         {"name": name, "role": role})
        for case_id, applicant in cases:
            conn.execute(text(f"INSERT INTO cases ({_CASE_COLUMNS}) VALUES ({_CASE_VALUES})"),
                         {"id": case_id, "applicant": applicant, "state": b"\x00"})
    connect(url)
    return engine


def test_a_database_at_the_first_schema_is_upgraded_with_its_rows(tmp_path):
    engine = _upgraded_from(tmp_path, "0001", cases=[("c", "a")])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT paused_days FROM cases WHERE id = 'c'")).scalar_one() == 0


def test_a_database_at_0002_gets_compiled_xml_empty_and_keeps_its_rows(tmp_path):
    engine = _upgraded_from(tmp_path, "0002", bpmn="<drawn/>")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT version, number, bpmn_xml, seq, compiled_xml "
                                "FROM procedure_versions")).one()
    assert tuple(row) == ("v", "1.1", "<drawn/>", 1, None)


def test_cases_at_0003_are_linked_to_the_applicant_account_their_name_matched(tmp_path):
    """Until 0004 an applicant saw the cases carrying their user name: those stay visible, and
    only those (a name that is a clerk's account, or no account, links nothing)."""
    engine = _upgraded_from(tmp_path, "0003", users=[("ivan", "applicant"), ("olga", "clerk")],
                            cases=[("c1", "ivan"), ("c2", "olga"), ("c3", "Петров П. П.")])
    with engine.connect() as conn:
        linked = dict(conn.execute(text("SELECT id, applicant_user FROM cases")).all())
    assert linked == {"c1": "ivan", "c2": None, "c3": None}

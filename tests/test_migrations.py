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


def test_a_database_at_the_first_schema_is_upgraded_with_its_rows(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0001")
        conn.execute(text(
            "INSERT INTO procedure_versions (version, number, name, definition, source, loaded_at, seq) "
            "VALUES ('v', '1.1', 'n', '{}', 's', '2025-06-18 07:00:00', 1)"))
        conn.execute(text(
            "INSERT INTO cases (id, number, version, status, applicant, channel, authority, exempt, fee, "
            "started_at, start_date, due_date, documents_requested, overdue, row_version, last_hash, "
            "state, state_format) VALUES ('c', '1.1', 'v', 'open', 'a', 'post', 'o', 0, 0, "
            "'2025-06-18 07:00:00', '2025-06-18', '2025-07-03', 0, 0, 1, 'h', x'00', 'f')"))
    connect(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT paused_days FROM cases WHERE id = 'c'")).scalar_one() == 0


def test_a_database_at_0002_gets_compiled_xml_empty_and_keeps_its_rows(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'before_0003.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0002")
        assert "compiled_xml" not in {c["name"] for c in inspect(conn).get_columns("procedure_versions")}
        conn.execute(text(
            "INSERT INTO procedure_versions (version, number, name, definition, bpmn_xml, source, "
            "loaded_at, seq) VALUES ('v', '1.1', 'n', '{}', '<drawn/>', 's', '2025-06-18 07:00:00', 1)"))
    connect(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() >= "0003"
        row = conn.execute(text("SELECT version, number, bpmn_xml, seq, compiled_xml "
                                "FROM procedure_versions")).one()
    assert tuple(row) == ("v", "1.1", "<drawn/>", 1, None)


def test_cases_at_0003_are_linked_to_the_applicant_account_their_name_matched(tmp_path):
    """Until 0004 an applicant saw the cases carrying their user name: those stay visible, and
    only those (a name that is a clerk's account, or no account, links nothing)."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'before_0004.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0003")
        conn.execute(text(
            "INSERT INTO procedure_versions (version, number, name, definition, source, loaded_at, seq) "
            "VALUES ('v', '1.1', 'n', '{}', 's', '2025-06-18 07:00:00', 1)"))
        for name, role in (("ivan", "applicant"), ("olga", "clerk")):
            conn.execute(text(
                "INSERT INTO users (name, password_hash, role, org, created_at) "
                f"VALUES ('{name}', 'x', '{role}', 'o', '2025-06-18 07:00:00')"))
        for case_id, applicant in (("c1", "ivan"), ("c2", "olga"), ("c3", "Петров П. П.")):
            conn.execute(text(
                "INSERT INTO cases (id, number, version, status, applicant, channel, authority, "
                "exempt, fee, started_at, start_date, due_date, documents_requested, overdue, "
                "row_version, last_hash, state, state_format, paused_days) VALUES "
                f"('{case_id}', '1.1', 'v', 'open', '{applicant}', 'post', 'o', 0, 0, "
                "'2025-06-18 07:00:00', '2025-06-18', '2025-07-03', 0, 0, 1, 'h', x'00', 'f', 0)"))
    connect(url)
    with engine.connect() as conn:
        linked = dict(conn.execute(text("SELECT id, applicant_user FROM cases")).all())
    assert linked == {"c1": "ivan", "c2": None, "c3": None}

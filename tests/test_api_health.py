"""Liveness and readiness (api/routes/health.py): GET /health without the database, GET /ready
checking the database, its schema and the catalog, answered 503 with a problem naming what is
wrong. The app runs on a real SQLite file (tests.test_api_support.Api); one test breaks the
database for real (its file replaced by garbage), one starts a real `okno serve` with an empty
catalog.
"""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from engine.store.connect import head_revision
from tests.serving import okno_serve
from tests.test_api_support import Api


def test_health_answers_without_a_token_or_the_database(tmp_path) -> None:
    api = Api(tmp_path)
    api.services.db.dispose()
    (tmp_path / "okno.db").write_bytes(b"not a database" * 100)  # whatever the database does
    r = api.get("/health", user=None)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready_when_the_database_answers_at_head_with_a_catalog(tmp_path) -> None:
    api = Api(tmp_path)
    r = api.get("/ready", user=None)
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_not_ready_when_the_schema_is_not_this_oknos(tmp_path) -> None:
    api = Api(tmp_path)
    with api.db.begin() as conn:  # as if an older okno had made it and nobody had upgraded
        conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    r = api.get("/ready", user=None)
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["title"] == "Service unavailable" and problem["status"] == 503
    assert f"at migration 0009, this okno needs {head_revision()}" in problem["detail"]
    assert "okno db upgrade" in problem["detail"]


@pytest.mark.sqlite_only  # breaks the database by overwriting its file
def test_not_ready_when_the_database_does_not_answer(tmp_path) -> None:
    api = Api(tmp_path)
    api.services.db.dispose()
    (tmp_path / "okno.db").write_bytes(b"not a database" * 100)
    r = api.get("/ready", user=None)
    assert r.status_code == 503
    assert r.json()["detail"] == "the database does not answer (DatabaseError)"
    assert "not a database" not in r.text  # the driver's own words stay in the log


def test_a_server_with_no_catalog_is_alive_but_not_ready(tmp_path) -> None:
    with okno_serve(tmp_path) as served:  # its catalog folder is empty
        assert httpx.get(f"{served.base}/health").status_code == 200
        r = httpx.get(f"{served.base}/ready")
    assert r.status_code == 503 and r.json()["detail"] == "no procedure is published"


def test_the_routes_are_documented(tmp_path) -> None:
    paths = Api(tmp_path).app.openapi()["paths"]
    assert set(paths["/ready"]["get"]["responses"]) >= {"200", "503"}
    assert "/health" in paths and "/metrics" not in paths

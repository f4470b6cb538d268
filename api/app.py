"""The HTTP API: `create_app()` wires the engine to FastAPI; the routes live in `api/routes_*.py`.

At startup the schema is created or upgraded (`engine.store.connect`) and the YAML catalog is
published (`Versions.publish`), so the newest definitions are current before the first request.
Responses are serialised with orjson (`api.app.json_response`); errors are problem+json
(`api.problems`). OpenAPI is at `/openapi.json`, its pages at `/docs`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from engine.clock import SystemClock
from engine.definition.validation import ROOT, load_catalog
from engine.runtime.commands import Cases
from engine.store.connect import connect, database_url
from engine.store.versions import Versions

log = logging.getLogger("okno.api")
ORJSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


@dataclass
class Services:
    """What every route needs, built once per process."""

    db: Any
    versions: Versions
    cases: Cases
    clock: SystemClock
    secret: str
    catalog_path: Path | None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised by orjson (dates ISO, naive datetimes as UTC with Z)."""
    return Response(orjson.dumps(data, option=ORJSON_OPTIONS), status_code=status,
                    media_type="application/json", headers=headers)


async def services(request: Request) -> Services:
    """The process's Services (dependency; async: no thread-pool hop)."""
    return request.app.state.okno


def build_services(database_url_: str | None = None, clock: SystemClock | None = None,
                   catalog_path: str | Path | None = None, secret: str | None = None,
                   publish: bool = True) -> Services:
    """Connect (creating the schema), publish the catalog, and build the engine objects."""
    from api.auth import load_secret

    clock = clock or SystemClock()
    db = connect(database_url_ or database_url())
    versions = Versions(db, clock)
    path = Path(catalog_path) if catalog_path is not None else ROOT / "procedures"
    if publish and path.exists():
        _publish(versions, load_catalog(path).values(), path)
    return Services(db=db, versions=versions, cases=Cases(db, versions, clock), clock=clock,
                    secret=secret or load_secret(), catalog_path=path)


def _publish(versions: Versions, procedures, path: Path, attempts: int = 5) -> None:
    """Publish the catalog; another process starting at the same moment may win a race (retry)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    procedures = list(procedures)
    for attempt in range(attempts):
        try:
            added = versions.publish(procedures)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        if added:
            log.info("published %d procedure version(s) from %s", len(added), path)
        return


def create_app(database_url: str | None = None, clock: SystemClock | None = None,
               catalog_path: str | Path | None = None, *, secret: str | None = None,
               services_: Services | None = None) -> FastAPI:
    """The FastAPI application on `database_url` (default OKNO_DATABASE_URL)."""
    from api import problems, routes_auth, routes_cases, routes_catalog

    app = FastAPI(
        title="okno",
        version="0.1.0",
        summary="One-window administrative procedures: cases, work lists, audit trails.",
        description="See docs/api.md. Every error is application/problem+json.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.okno = services_ or build_services(database_url, clock, catalog_path, secret)
    problems.install(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_catalog.router)
    app.include_router(routes_cases.router)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema into the OpenAPI components (error responses refer to it)."""
    from api.schemas import Problem

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}")
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory api.app:app_from_env` and gunicorn workers."""
    import os

    return create_app(catalog_path=os.environ.get("OKNO_CATALOG") or None)

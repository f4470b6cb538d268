"""The HTTP API: `create_app()` makes the FastAPI application and includes the routers.

The routes live in `api/routes/` (`health`, `auth`, `catalog`, `cases`, `notices`, `ratings`,
`reports`, `open311`); what they share (`Services`, the `services` dependency, `json_response`,
`build_services`) is in `api.deps`. At startup the schema is created or upgraded
(`engine.store.connect`) and the YAML catalog is published (`Versions.publish`), so the newest
definitions are current before the first request. Responses are serialised with orjson; errors
are problem+json (`api.problems`). OpenAPI is at `/openapi.json`, its pages at `/docs` (Swagger
UI) and `/redoc`, whose scripts and styles are served from the installed `fastapi-offline`
package under `/static/docs/`: no CDN, so the pages work on a network without Internet access.
Every request's body is read whole, within the `body_timeout_seconds` setting and at most
`max_body_bytes` long, before a route sees it
(`api.limits.BodyLimits`: 408 or 413 otherwise). Every request is counted and timed by its route
template for GET /metrics (`api.metrics.RequestMetrics`); `api.routes.health` has the liveness,
readiness and metrics routes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api import pages, problems
from api.deps import Services, build_services
from api.limits import BodyLimits
from api.metrics import Metrics, RequestMetrics
from api.routes import (
    auth,
    cabinet,
    cases,
    catalog,
    external_tasks,
    health,
    migrations,
    notices,
    open311,
    public_answers,
    publication,
    ratings,
    repeats,
    reports,
    signup,
)
from api.schemas import Problem
from engine.clock import SystemClock
from engine.settings import Settings
from engine.store.connect import head_revision

__all__ = ["app_from_env", "build_services", "create_app"]


def create_app(database_url: str | None = None, clock: SystemClock | None = None,
               catalog_path: str | Path | None = None, *, secret: str | None = None,
               services_: Services | None = None, settings: Settings | None = None,
               publish: bool = True) -> FastAPI:
    """The FastAPI application on `services_`, or on services built from `settings` (default:
    read from the environment now); `database_url`, `catalog_path` and `secret` win over them.
    `publish=False`: the catalog was published already (a worker of `okno serve`)."""
    app = FastAPI(
        title="okno",
        version="0.1.0",
        summary="One-window administrative procedures: cases, work lists, audit trails.",
        description="See docs/api.md. Every error is application/problem+json.",
        docs_url=None,  # served by _document_pages, from local assets
        redoc_url=None,
    )
    app.state.okno = services_ or build_services(database_url, clock, catalog_path, secret,
                                                 publish, settings=settings)
    limits = app.state.okno.settings
    app.state.schema_head = head_revision()
    app.state.metrics = Metrics(app.state.okno)
    app.add_middleware(BodyLimits, max_bytes=limits.max_body_bytes, timeout=limits.body_timeout_seconds)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)  # outermost: times all of it
    problems.install(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(catalog.router)
    app.include_router(publication.router)
    app.include_router(migrations.router)
    app.include_router(cases.router)
    app.include_router(external_tasks.router)
    app.include_router(notices.router)
    app.include_router(signup.router)
    app.include_router(cabinet.router)
    app.include_router(repeats.router)
    app.include_router(public_answers.router)
    app.include_router(ratings.router)
    app.include_router(reports.router)
    app.include_router(open311.router)
    pages.install(app)
    _document_problems(app)
    _document_pages(app)
    return app


DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_STATIC = "/static/docs"


def _document_pages(app: FastAPI) -> None:
    """`/docs` and `/redoc` on the Swagger UI and ReDoc files fastapi-offline ships."""
    app.mount(DOCS_STATIC, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get(redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png", with_google_fonts=False)


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema into the OpenAPI components (error responses refer to it)."""
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
    """Factory for `uvicorn --factory api.app:app_from_env`: the settings from the environment.
    (`okno serve` passes its workers the settings it read instead: api.serve.) uvicorn's own
    command line has the body limits (`BodyLimits`) but not `okno serve`'s header deadline and
    connection cap, and believes `X-Forwarded-For` from 127.0.0.1: for comparisons, not service."""
    return create_app(settings=Settings())

"""Every error the API sends is an RFC 9457 problem: `application/problem+json`.

A problem has `type`, `title`, `status`, `detail`, and, when one part of the request is at fault,
`field` (a dotted path such as `data.child_order` or `query.limit`) and `errors[]` (each with
`field` and `detail`; a refused form names every field at fault: `InvalidForm`). Engine
errors (`engine.errors`) carry no HTTP: `ENGINE_ERRORS` gives each class its status, title and
type (a subclass takes its nearest mapped ancestor's); FastAPI's validation errors become 422
naming the field; anything unexpected is a 500 without internals.
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.allow import allowed_methods
from engine.errors import (
    Conflict,
    DocumentsMissing,
    DocumentsOutstanding,
    Forbidden,
    InvalidForm,
    InvalidInput,
    NotAllowed,
    NotFound,
    OknoError,
)

PROBLEM = "application/problem+json"
TYPE_BASE = "urn:okno:problem:"
log = logging.getLogger("okno.api")

TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 415: "Unsupported media type",
          422: "Invalid input", 429: "Too many requests", 500: "Internal error",
          503: "Service unavailable"}
SLUGS = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
         405: "method-not-allowed", 409: "conflict", 415: "unsupported-media-type",
         422: "invalid-input", 429: "too-many-requests", 500: "internal-error",
         503: "service-unavailable"}


class EngineProblem(NamedTuple):
    """How an engine error class is answered over HTTP."""

    status: int
    title: str
    slug: str


ENGINE_ERRORS: dict[type[OknoError], EngineProblem] = {
    OknoError: EngineProblem(400, "Bad request", "bad-request"),
    NotFound: EngineProblem(404, "Not found", "not-found"),
    InvalidInput: EngineProblem(422, "Invalid input", "invalid-input"),
    InvalidForm: EngineProblem(422, "Invalid input", "invalid-input"),
    NotAllowed: EngineProblem(409, "Not allowed in the current state", "not-allowed"),
    # the decision waits for requested documents: 409 with errors[] naming documents.<id>
    DocumentsOutstanding: EngineProblem(409, "Requested documents outstanding", "documents-outstanding"),
    # intake waits until every needed presented document is recorded: 409 naming documents.<id>
    DocumentsMissing: EngineProblem(409, "Documents not recorded", "documents-missing"),
    Conflict: EngineProblem(409, "Conflict", "conflict"),
    Forbidden: EngineProblem(403, "Forbidden", "forbidden"),
}


def engine_problem(exc: OknoError) -> EngineProblem:
    """The status, title and type of `exc`: its class's entry, else its nearest ancestor's."""
    for cls in type(exc).__mro__:
        found = ENGINE_ERRORS.get(cls)
        if found is not None:
            return found
    return ENGINE_ERRORS[OknoError]  # unreachable: every engine error derives from OknoError


class ApiError(Exception):
    """An error raised by the HTTP face itself (authentication, access, idempotency)."""

    def __init__(self, status: int, detail: str, *, field: str | None = None,
                 title: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers


def unauthenticated(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str, field: str | None = None) -> ApiError:
    return ApiError(403, detail, field=field)


def not_found(detail: str, field: str | None = None) -> ApiError:
    return ApiError(404, detail, field=field)


def problem_body(status: int, detail: str, *, title: str | None = None, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None, slug: str | None = None) -> dict:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or SLUGS.get(status, "error")),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    elif field is not None:
        body["errors"] = [{"field": field, "detail": detail}]
    return body


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None, **kw: Any) -> Response:
    return Response(orjson.dumps(problem_body(status, detail, **kw)), status_code=status,
                    media_type=PROBLEM, headers=headers)


def _loc_to_field(loc: tuple | list) -> str:
    """FastAPI's ('body', 'data', 'x') -> 'data.x'; ('query', 'limit') -> 'query.limit'."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = err.get("loc", ())
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":  # the body as a whole (api.json_body says why)
            why = (err.get("ctx") or {}).get("error")
            out.append({"field": "body", "detail": f"not a JSON body okno accepts: {why}" if why
                        else "not valid JSON"})
            continue
        out.append({"field": _loc_to_field(loc), "detail": msg})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""

    @app.exception_handler(OknoError)
    async def _okno(_request: Request, exc: OknoError) -> Response:
        status, title, slug = engine_problem(exc)
        errors = ([{"field": e.field, "detail": e.detail} for e in exc.errors]
                  if isinstance(exc, (InvalidForm, DocumentsOutstanding, DocumentsMissing)) else None)
        return problem(status, exc.detail, title=title, field=exc.field, slug=slug,
                       errors=errors)

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> Response:
        return problem(exc.status, exc.detail, title=exc.title, field=exc.field, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(list(exc.errors()))
        first = errors[0] if errors else {"field": "body", "detail": "invalid request"}
        detail = f"{first['field']}: {first['detail']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem(422, detail, field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        if exc.status_code == 400:  # a body FastAPI cannot parse (e.g. not UTF-8): bad input
            return problem(422, f"body: {detail}", field="body")
        if exc.status_code == 405:  # Starlette names only the first route of the path
            methods = allowed_methods(request)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": methods})
            return problem(405, f"{request.method} is not allowed here; allowed: {methods}",
                           headers={"Allow": methods})
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "an unexpected error occurred; nothing was changed if the request "
                            "was refused before its transaction committed")

"""Which methods a path answers: the `Allow` header of a 405 and the answer to OPTIONS.

Starlette stops at the first route whose path matches and names only that route's methods, so
`/api/cases` (a GET route and a POST route) was answered `Allow: POST`. Here every route of the
application is asked; OPTIONS is always listed: it answers 204 with this header.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.routing import get_route_path

__all__ = ["allowed_methods"]

_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def allowed_methods(request: Request) -> str:
    """`Allow` for the request's path: the methods of every route whose path matches it."""
    path = get_route_path(request.scope)
    methods: set[str] = {"OPTIONS"}
    for prefix, route in _routes(request.app.router.routes):
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is None or not route_methods or not path.startswith(prefix):
            continue
        if regex.match(path[len(prefix):]):
            methods |= set(route_methods)
    return ", ".join(sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else 99, m)))


def _routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every route with the prefix it is mounted under, routers included by others unfolded."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
        else:
            yield prefix, route

"""Rendering pages: the Jinja2 environment, the page response and its security headers.

Templates are in `api/pages/templates` (autoescaped); `render` adds what every page needs (the
signed-in user, the CSRF token, the navigation) and sends a Content-Security-Policy that allows
scripts and styles from this server only. Static files: the pages' own (`/static/pages/`) and
the npm packages' distribution folders (`/static/vendor/<name>/`), each mounted on its `dist`
folder only, so nothing else under node_modules is reachable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, RedirectResponse

from api.pages.session import PageForbidden, SignInRequired, page_context, remember_csrf

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
NODE_MODULES = HERE / "vendor" / "node_modules"
# URL name -> the package's folder that is served (only its distribution files).
VENDOR = {"htmx": NODE_MODULES / "htmx.org" / "dist",
          "bpmn-js": NODE_MODULES / "bpmn-js" / "dist"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}

templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian plural form for `n` (1 ошибка, 2 ошибки, 5 ошибок, 21 ошибка, 11 ошибок)."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


templates.env.filters["plural"] = plural


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page `name` rendered with `context` plus what every page needs; `status` is 422 for a
    refused form, so a client (and a test) can tell."""
    values = {**page_context(request), **(context or {})}
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    remember_csrf(request, response)
    return response


def mount_static(app: FastAPI) -> None:
    """`/static/pages/` and `/static/vendor/<name>/` (missing npm packages: those URLs 404, the
    pages still work without their scripts)."""
    app.mount("/static/pages", StaticFiles(directory=STATIC), name="pages-static")
    for name, folder in VENDOR.items():
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=folder, check_dir=False),
                  name=f"vendor-{name}")


def install_handlers(app: FastAPI) -> None:
    """A page that needs a signed-in user redirects to the sign-in page (and back after it); one
    the user's role may not see answers 403 with a page saying so."""

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden_page(request: Request, exc: PageForbidden) -> HTMLResponse:
        return render(request, "forbidden.html", {"reason": exc.reason}, status=403)

"""The web pages: a face over the engine like the JSON API, rendered on the server (Jinja2).

Every page works without JavaScript (plain forms, POST then redirect); htmx, when it loads,
only swaps parts of a page. Front-end assets come from npm packages installed at install time
into `api/pages/vendor/node_modules` (`make` runs `npm ci`) and are served from there, never
from a CDN. Modules: `rendering` (templates, the page response, security headers), `session`
(the sign-in cookie, CSRF tokens, who may see a page), `front` (the front door, sign-in and
sign-out), `desk` (the clerk's work list), `cases` (the case page
and its actions), `tasks` (the task form), `commands` (what the clerk's pages share to run a
command), `stand` (the public one-window information stand), `printables` (a case's
receipt, decision notice and refusal for print), `notices` (a case's notices for print, the
outbox of notices for supervisors), `dashboard` (the supervisor's figures,
reassigning tasks), `analyst` (the catalog: validation, definitions, diagrams, versions,
diffs), `remarks` (the record of the book of remarks and suggestions), `cabinet` (the
applicant's sign-up, cases, notices, withdrawal and appeal form), `answers` (the public answers
to identical appeals), `repeats` (repeated appeals on the case page, terminating
correspondence, publishing a public answer), `reports` (an authority's report with charts,
CSV, XLSX), `ratings` (the applicant's rating form, the superior body's register and
half-year monitoring), `figures_form` (what those two share), `start` (the clerk's
form registering an application, with its service option). `install(app)` mounts the static
files and includes every page router.
"""
from __future__ import annotations

from fastapi import FastAPI

from api.pages import (
    analyst,
    answers,
    cabinet,
    cases,
    dashboard,
    desk,
    front,
    notices,
    printables,
    ratings,
    remarks,
    repeats,
    reports,
    stand,
    start,
    tasks,
)
from api.pages.rendering import install_handlers, mount_static

ROUTERS = (front.router, desk.router, cases.router, tasks.router, stand.router,
           printables.router, notices.router, dashboard.router, analyst.router, remarks.router,
           cabinet.router, answers.router, repeats.router, reports.router, ratings.router,
           start.router)


def install(app: FastAPI) -> None:
    """Mount the pages' static files and routers on `app`."""
    mount_static(app)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

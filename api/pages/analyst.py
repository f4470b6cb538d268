"""The analyst's catalog: every procedure's validation state, definition, diagram, versions and
the diff report between two versions or two dates.

- `GET /analyst`: every procedure, published or on disk, with the state of its file now (the
  validator `okno validate` runs: engine.read.catalog_state), and a form comparing the whole
  catalog at two dates.
- `GET /analyst/procedures/{number}`: the problems with file:line, the YAML source with line
  numbers (the lines at fault marked), the diagram (the BPMN the current version runs, drawn by
  the bpmn-js viewer from npm in `static/analyst.js`; without JavaScript, a link to download the
  .bpmn), the published versions with hash and date, and a form to compare two of them.
- `GET /analyst/diff` and `/analyst/procedures/{number}/diff`: the report `okno diff` prints
  (engine.diff.reports), embedded in the page, burdens flagged.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from api.pages.rendering import render
from api.pages.session import require_user
from engine.bpmn.xml import BpmnError
from engine.definition.procedure import Procedure
from engine.diff.pairing import diff_catalogs
from engine.diff.reports import render_html_body
from engine.errors import OknoError
from engine.process.compile import bpmn_text
from engine.read.catalog_state import (
    DATE_RE,
    VERSION_RE,
    DefinitionState,
    catalog_at,
    catalog_state,
    definition_state,
    read_source,
)

router = APIRouter(include_in_schema=False)

ANALYSTS = ("analyst",)
NUMBER_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){0,3}$")
RU_DATE_RE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
Spec = Query(None, max_length=64)
SIDE_ERROR = ("Укажите «current» (текущий каталог), дату (ДД.ММ.ГГГГ) или хеш сохранённой "
              "версии.")


@router.get("/analyst", response_class=HTMLResponse)
async def catalog_page(request: Request) -> Response:
    await require_user(request, *ANALYSTS)
    svc = request.app.state.okno
    states = catalog_state(svc.catalog_path, svc.versions)
    return render(request, "analyst_catalog.html", {
        "states": states, "folder": svc.catalog_path.name,
        "bad": sum(1 for s in states if not s.valid), "form": {"from": "", "to": "current"},
        "errors": {}})


@router.get("/analyst/diff", response_class=HTMLResponse)
async def catalog_diff(request: Request, from_: str | None = Query(None, alias="from", max_length=64),
                       to: str | None = Spec) -> Response:
    await require_user(request, *ANALYSTS)
    return _diff_page(request, None, from_, to)


@router.get("/analyst/procedures/{number}", response_class=HTMLResponse)
async def procedure_page(request: Request, number: str) -> Response:
    await require_user(request, *ANALYSTS)
    svc = request.app.state.okno
    state = _state(request, number)
    if state is None:
        return _missing(request, number)
    source = read_source(state)
    bad_lines: dict[int, list[str]] = {}
    for problem in state.problems:
        bad_lines.setdefault(problem.line, []).append(f"{problem.column}: {problem.message}")
    history = _history(svc, number)
    return render(request, "analyst_procedure.html", {
        "state": state, "folder": svc.catalog_path.name,
        "lines": source.splitlines() if source is not None else None, "bad_lines": bad_lines,
        "history": history, "errors": {},
        "form": {"from": history[1]["version"] if len(history) > 1 else "",
                 "to": history[0]["version"] if history else ""}})


@router.get("/analyst/procedures/{number}/diagram.bpmn")
async def diagram(request: Request, number: str,
                  version: str | None = Query(None, pattern=r"^[0-9a-f]{64}$")) -> Response:
    """The BPMN 2.0 XML (with its diagram) that the version runs: the drawn file or the steps
    compiled when it was published. A download; the page's viewer reads it too."""
    await require_user(request, *ANALYSTS)
    proc = _procedure(request, number, version)
    if proc is None:
        return _missing(request, number)
    try:
        xml = proc.pinned_xml or bpmn_text(proc)
    except BpmnError:
        return _missing(request, number, "Схему этой версии процедуры построить нельзя.")
    return Response(xml, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{number}.bpmn"',
        "X-Content-Type-Options": "nosniff"})


@router.get("/analyst/procedures/{number}/diff", response_class=HTMLResponse)
async def procedure_diff(request: Request, number: str,
                         from_: str | None = Query(None, alias="from", max_length=64),
                         to: str | None = Spec) -> Response:
    await require_user(request, *ANALYSTS)
    if _state(request, number) is None:
        return _missing(request, number)
    return _diff_page(request, number, from_, to)


# ------------------------------------------------------------------------------------ internals

def _diff_page(request: Request, number: str | None, old: str | None, new: str | None) -> Response:
    """The report between two sides, or the form again with what is wrong next to each field."""
    svc = request.app.state.okno
    form = {"from": (old or "").strip(), "to": (new or "current").strip() or "current"}
    errors: dict[str, str] = {}
    sides: dict[str, tuple[dict[str, Procedure], str]] = {}
    for name in ("from", "to"):
        spec = _iso(form[name])
        if not spec:
            errors[name] = "Укажите, что сравнивать."
            continue
        try:
            sides[name] = catalog_at(svc.db, svc.versions, spec)
        except OknoError:
            errors[name] = (SIDE_ERROR if not VERSION_RE.fullmatch(spec)
                            else "Такой версии нет среди сохранённых.")
    report = None
    if not errors:
        (old_side, old_label), (new_side, new_label) = sides["from"], sides["to"]
        keep = {number} if number else None
        for side, label in ((old_side, old_label), (new_side, new_label)):
            if label.startswith("version:") and number is None:
                keep = set(side) | (keep or set())
        if keep is not None:
            old_side = {n: p for n, p in old_side.items() if n in keep}
            new_side = {n: p for n, p in new_side.items() if n in keep}
        diff = diff_catalogs(old_side, new_side, old_label=_label(form["from"], svc),
                             new_label=_label(form["to"], svc), calendar=svc.cases.calendar)
        report = {"html": Markup(render_html_body(diff)), "summary": diff.summary,
                  "burden": diff.has_burden}
    name, history = None, []
    if number:
        state = _state(request, number)
        name = state.name if state else None
        history = _history(svc, number)
        # Versions are picked from a list; dates (or a hash of another number) are typed.
        if not {form["from"], form["to"]} <= {v["version"] for v in history} | {"current"}:
            history = []
    return render(request, "analyst_diff.html", {
        "number": number, "name": name, "form": form, "errors": errors, "report": report,
        "history": history}, status=422 if errors else 200)


def _history(svc: Any, number: str) -> list[dict[str, Any]]:
    """The published versions, the newest first, each with its ordinal `n` (1 = the first)."""
    return [{**v, "n": i} for i, v in reversed(list(enumerate(svc.versions.history(number), 1)))]


def _state(request: Request, number: str) -> DefinitionState | None:
    if not NUMBER_RE.fullmatch(number):
        return None
    svc = request.app.state.okno
    return definition_state(svc.catalog_path, svc.versions, number)


def _procedure(request: Request, number: str, version: str | None) -> Procedure | None:
    if not NUMBER_RE.fullmatch(number):
        return None
    versions = request.app.state.okno.versions
    try:
        proc = versions.get(version) if version else versions.current(number)
    except OknoError:
        return None
    return proc if proc.number == number else None


def _missing(request: Request, number: str, reason: str | None = None) -> Response:
    return render(request, "analyst_missing.html", {
        "reason": reason or f"Процедуры {number[:32]} нет ни в каталоге, ни среди опубликованных."},
        status=404)


def _iso(spec: str) -> str:
    """A date typed as ДД.ММ.ГГГГ in ISO form; anything else as it is."""
    found = RU_DATE_RE.fullmatch(spec)
    return f"{found[3]}-{found[2]}-{found[1]}" if found else spec


def _label(spec: str, svc: Any) -> str:
    """How a side is named in the report (Russian, dates as 02.12.2026)."""
    spec = _iso(spec)
    if spec == "current":
        return "текущий каталог"
    if DATE_RE.fullmatch(spec):
        return f"каталог на {spec[8:10]}.{spec[5:7]}.{spec[0:4]}"
    return f"версия {spec[:12]}"

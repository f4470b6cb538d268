"""Reports as a page: `/reports`, an authority's figures for a period as SVG charts drawn on the
server (templates `charts.html`, like the dashboard: each chart an image with a title and a data
table under it), with the same report to download as CSV or XLSX
(`/reports/report.csv`, `/reports/report.xlsx`). Supervisors read their own authority and those
below it, auditors every one (`figures_form.readable`); the figures are engine.reports.figures,
the same as `GET /api/reports`. A wrong period or authority: the page again (422) with the error
next to its field.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from api.pages.figures_form import period_form, readable
from api.pages.rendering import render
from api.pages.session import require_user
from engine.diff.wording import CHANNEL_RU
from engine.reports import export, figures

router = APIRouter(include_in_schema=False)

READERS = ("supervisor", "auditor")
CHANNELS_RU = {**CHANNEL_RU, "portal": "через портал", "written": "письменные",
               "oral": "устные (личный приём)", "electronic": "электронные"}
KINDS_RU = {"statement": "заявления", "proposal": "предложения", "complaint": "жалобы"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request) -> Response:
    user = await require_user(request, *READERS)
    svc = request.app.state.okno
    catalog = svc.authorities.get()
    choices = readable(user, catalog)
    form = period_form(request.query_params, user, choices, svc.clock.today(), svc.clock.zone)
    report = None
    if not form.errors:
        report = _report(svc, form)
    query = urlencode({"authority": form.authority, "from": form.first, "to": form.last})
    return render(request, "reports.html", {
        "form": form, "choices": choices, "errors": form.errors, "report": report,
        "charts": _charts(svc, report) if report else None, "query": query,
    }, status=422 if form.errors else 200)


@router.get("/reports/report.{fmt}")
async def reports_download(request: Request, fmt: str) -> Response:
    user = await require_user(request, *READERS)
    svc = request.app.state.okno
    form = period_form(request.query_params, user, readable(user, svc.authorities.get()),
                       svc.clock.today(), svc.clock.zone)
    if fmt not in ("csv", "xlsx") or form.errors:
        return await reports_page(request)  # the form again, with what is wrong
    report = _report(svc, form)
    name = f"report-{form.authority}-{form.first}-{form.last}.{fmt}"
    body = export.as_csv(report) if fmt == "csv" else export.as_xlsx(report)
    return Response(body, media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _report(svc: Any, form: Any) -> dict[str, Any]:
    clock = svc.clock
    scope = figures.Scope.of(form.authority, form.within.first, form.within.last, clock)
    with svc.db.connect() as conn:
        return figures.report(conn, scope, svc.authorities.get().get(form.authority).name)


def _charts(svc: Any, report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The breakdowns as chart rows {label, value}, labelled in Russian from the definitions."""
    titles = _titles(svc)
    a, p = report["appeals"], report["procedures"]

    def rows(items: list[dict[str, Any]], key: str, names: dict[str, str]) -> list[dict[str, Any]]:
        return [{"label": names.get(i[key] or "", i[key] or "—"), "value": i["count"]}
                for i in items]

    return {"channel": rows(a["by_channel"], "channel", CHANNELS_RU),
            "kind": rows(a["by_kind"], "kind", {**KINDS_RU, **titles["kinds"]}),
            "topic": rows(a["by_topic"], "topic", titles["topics"]),
            "left": rows(a["left_by_ground"], "ground", titles["grounds"]),
            "p_channel": rows(p["by_channel"], "channel", CHANNELS_RU),
            "p_number": [{"label": f"{i['number']} {titles['names'].get(i['number'], '')}",
                          "value": i["count"]} for i in p["by_procedure"]],
            "refusals": rows(p["refusals_by_ground"], "ground", titles["grounds"])}


def _titles(svc: Any) -> dict[str, dict[str, str]]:
    """Russian titles of kinds, topics and grounds from the current definitions, and the
    definitions' names (CORE's appeal definitions add kinds, topics and grounds of leaving)."""
    out: dict[str, dict[str, str]] = {"kinds": {}, "topics": {}, "grounds": {}, "names": {}}
    for number, version in svc.versions.current_versions().items():
        proc = svc.versions.get(version)
        out["names"][number] = proc.name
        for pool, key in (("kinds", "kinds"), ("topics", "topics"), ("grounds", "leave_grounds"),
                          ("grounds", "refusal_grounds"), ("grounds", "acceptance_refusal_grounds")):
            for choice in getattr(proc, key, ()):
                out[pool].setdefault(choice.id, choice.title)
    return out

"""Reports per authority and period (engine/reports/): appeals and administrative procedures, as
JSON, CSV or XLSX.

`GET /api/reports?authority=…&from=…&to=…&format=json|csv|xlsx`; who may read it:
`api.access.may_read_figures` (a supervisor their own authority and those below it, an auditor
every one). The period is local days, `from` to `to` (default: the year so far).
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.responses import Response

from api import access
from api.auth import CurrentUser
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.routes.ratings import AuthorityId, From, To
from api.schemas import checked_by_engine, errors
from engine.accounts import User
from engine.reports import export, figures

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["reports"])
Svc = Annotated[Services, Depends(services)]
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Counted(BaseModel):
    count: int


class ByChannel(Counted):
    channel: str


class ByKind(Counted):
    kind: str | None


class ByTopic(Counted):
    topic: str | None


class ByGround(Counted):
    ground: str | None


class ByProcedure(Counted):
    number: str


class AppealFigures(BaseModel):
    received: int
    by_channel: list[ByChannel]
    by_kind: list[ByKind]
    by_topic: list[ByTopic]
    answered: int
    answered_on_time: int
    on_time_share: float | None
    overdue: int
    repeated: int
    repeated_share: float | None
    repeated_counted: bool
    satisfied: int
    satisfied_share: float | None
    left_without_consideration: int
    left_by_ground: list[ByGround]
    withdrawn: int
    ratings: int
    average_rating: float | None


class ProcedureFigures(BaseModel):
    received: int
    by_channel: list[ByChannel]
    by_procedure: list[ByProcedure]
    decided: int
    decided_on_time: int
    on_time_share: float | None
    overdue: int
    refused: int
    refusals_by_ground: list[ByGround]
    not_accepted: int
    withdrawn: int
    ratings: int
    average_rating: float | None


class ReportOut(BaseModel):
    authority: str
    name: str
    from_: date = Field(alias="from")
    to: date
    today: date
    appeals: AppealFigures
    procedures: ProcedureFigures


@router.get("/reports", response_model=ReportOut,
            responses={200: {"content": {CSV: {"schema": {"type": "string"}},
                                         XLSX: {"schema": {"type": "string",
                                                           "format": "binary"}}}},
                       **errors(401, 403)},
            openapi_extra=checked_by_engine("authority", "to"))
async def report(authority: AuthorityId, user: CurrentUser, svc: Svc, first: From = None,
                 last: To = None, format: Literal["json", "csv", "xlsx"] = "json"):  # noqa: A002
    """An authority's report for the period: appeals received by channel, kind and topic,
    answered on time, overdue, repeated, satisfied, left without consideration by ground,
    withdrawn, the average rating; the same for administrative procedures (decided on time,
    refusals by ground)."""
    data = build(svc, user, authority, first, last)
    if format == "json":
        return json_response(data)
    name = f"report-{authority}-{data['from']}-{data['to']}.{format}"
    body = export.as_csv(data) if format == "csv" else export.as_xlsx(data)
    return Response(body, media_type=CSV if format == "csv" else XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def build(svc: Services, user: User, authority: str, first: date | None,
          last: date | None) -> dict[str, Any]:
    """The report, once the caller may read it."""
    catalog = svc.authorities.get()
    access.may_read_figures(user, authority, catalog)
    scope = figures.Scope.of(authority, first, last, svc.clock)
    with svc.db.connect() as conn:
        return figures.report(conn, scope, catalog.get(authority).name)

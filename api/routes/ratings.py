"""Quality ratings: an applicant grades their ended case once; supervisors and auditors read the
figures, the superior bodies' registers and the half-year monitoring report (engine/ratings/).

`POST /api/cases/{id}/rating` is the applicant's (201; 404 for a case that is not theirs, 409
before the case ends or when it is rated already). `GET /api/cases/{id}/rating` shows it to
whoever may see the case. The figures (`/api/ratings`, `/api/ratings/register`,
`/api/ratings/monitoring`) follow `api.access.may_read_figures`: a supervisor reads their own
authority and those below it, an auditor every one. Periods are local days, `from` to `to`
(default: the year so far).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from starlette.responses import Response

from api import access
from api.access import CASE_READERS
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.problems import not_found
from api.schemas import IsoDate, Request, Text, checked_by_engine, errors
from engine.ratings import grading, monitoring, register
from engine.ratings.criteria import HIGHEST, LOWEST, MAX_COMMENT
from engine.read import queries

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["ratings"])
Svc = Annotated[Services, Depends(services)]
CaseId = Annotated[str, Path(min_length=1, max_length=64, description="case id (UUID)")]
AuthorityId = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9-]*$",
                                   description="an authority of the catalog")]
From = Annotated[IsoDate | None, Query(alias="from", description="first day (default: 1 January)")]
To = Annotated[IsoDate | None, Query(alias="to", description="last day, included (default: today)")]


def _whole(value: object) -> int:
    """A JSON whole number (1.0 is JSON Schema's integer 1); "5", true and 4.5 are refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a whole number is expected")
    return value


Grade = Annotated[int, BeforeValidator(_whole), Field(ge=LOWEST, le=HIGHEST),
                  WithJsonSchema({"type": "integer", "minimum": LOWEST, "maximum": HIGHEST})]
CSV = "text/csv; charset=utf-8"


class RatingIn(Request):
    """The four criteria of the rating portal, 1-5 each, and an optional comment."""

    simplicity: Grade
    information: Grade
    term: Grade
    politeness: Grade
    comment: Annotated[Text, Field(max_length=MAX_COMMENT)] | None = None


class RatingOut(BaseModel):
    case_id: str
    applicant_user: str
    authority: str
    number: str
    type: str
    simplicity: int
    information: int
    term: int
    politeness: int
    comment: str | None
    created_at: datetime


class Figures(BaseModel):
    ratings: int
    simplicity: float | None
    information: float | None
    term: float | None
    politeness: float | None
    average: float | None


class ProcedureFigures(Figures):
    number: str
    name: str | None


class Comment(BaseModel):
    case_id: str
    number: str
    created_at: datetime
    comment: str
    simplicity: int
    information: int
    term: int
    politeness: int


class RatingsOut(BaseModel):
    authority: str
    name: str
    from_: date = Field(alias="from")
    to: date
    figures: Figures
    by_procedure: list[ProcedureFigures]
    comments: list[Comment]


class RegisterItem(Figures):
    authority: str
    name: str
    superior: str | None
    position: int | None


class RegisterOut(BaseModel):
    authority: str
    name: str
    from_: date = Field(alias="from")
    to: date
    items: list[RegisterItem]


class MonitoringItem(RegisterItem):
    previous_position: int | None
    move: int | None


class MonitoringOut(BaseModel):
    authority: str
    name: str
    period: str
    from_: date = Field(alias="from")
    to: date
    items: list[MonitoringItem]


@router.post("/cases/{case_id}/rating", status_code=201, response_model=RatingOut,
             responses=errors(401, 403, 404, 409))
async def rate(case_id: CaseId, body: RatingIn, user: CurrentUser, svc: Svc):
    """Grade your own ended case or appeal, once (applicants)."""
    require_role(user, "applicant")
    stored = grading.grade(svc.db, case_id, applicant_user=user.name,
                           grades=body.model_dump(exclude={"comment"}), comment=body.comment,
                           now=svc.cases.now())
    return json_response(stored, 201)


@router.get("/cases/{case_id}/rating", response_model=RatingOut, responses=errors(401, 403, 404))
async def get_rating(case_id: CaseId, user: CurrentUser, svc: Svc):
    """A case's rating (whoever may see the case); 404 when it has none."""
    require_role(user, *CASE_READERS)
    access.visible_case(user, queries.case_facts(svc.db, case_id), case_id)
    stored = grading.rating_of(svc.db, case_id)
    if stored is None:
        raise not_found(f"case {case_id} has not been rated", field="case_id")
    return json_response(stored)


@router.get("/ratings", response_model=RatingsOut, responses=errors(401, 403),
            openapi_extra=checked_by_engine("authority", "to"))
async def ratings_of(authority: AuthorityId, user: CurrentUser, svc: Svc, first: From = None,
                     last: To = None):
    """One authority's figures in the period, per procedure, and the newest comments."""
    catalog = svc.authorities.get()
    access.may_read_figures(user, authority, catalog)
    within = _period(svc, first, last)
    with svc.db.connect() as conn:
        figures = register.by_authority(conn, [authority], within)[authority]
        per_procedure = register.by_procedure(conn, authority, within)
        notes = register.comments(conn, authority, within)
    names = procedure_names(svc, {p["number"] for p in per_procedure})
    return json_response({"authority": authority, "name": catalog.get(authority).name,
                          "from": within.first, "to": within.last, "figures": figures,
                          "by_procedure": [{**p, "name": names.get(p["number"])}
                                           for p in per_procedure],
                          "comments": notes})


@router.get("/ratings/register", response_model=RegisterOut, responses=errors(401, 403),
            openapi_extra=checked_by_engine("authority", "to"))
async def ratings_register(authority: AuthorityId, user: CurrentUser, svc: Svc,
                           first: From = None, last: To = None):
    """The register a superior body keeps: its subordinate authorities (every level below it),
    each with its figures and position in the period, best first."""
    catalog = svc.authorities.get()
    access.may_read_figures(user, authority, catalog)
    within = _period(svc, first, last)
    with svc.db.connect() as conn:
        items = register.register(conn, catalog, authority, within)
    return json_response({"authority": authority, "name": catalog.get(authority).name,
                          "from": within.first, "to": within.last, "items": items})


@router.get("/ratings/monitoring", response_model=MonitoringOut,
            responses={200: {"content": {CSV: {"schema": {"type": "string"}}}},
                       **errors(401, 403)},
            openapi_extra=checked_by_engine("authority"))
async def ratings_monitoring(authority: AuthorityId, year: Annotated[int, Query(ge=2000, le=2100)],
                             half: Annotated[int, Query(ge=1, le=2, description="1: January-June, "
                                                                   "2: July-December")],
                             user: CurrentUser, svc: Svc,
                             format: Literal["json", "csv"] = "json"):  # noqa: A002
    """The half-year monitoring report of a superior body's register: positions now and in the
    half-year before, and the move (positive: up). `format=csv` for a spreadsheet."""
    catalog = svc.authorities.get()
    access.may_read_figures(user, authority, catalog)
    with svc.db.connect() as conn:
        report = monitoring.report(conn, catalog, authority, monitoring.HalfYear(year, half),
                                   svc.clock.zone)
    if format == "csv":
        name = f"monitoring-{authority}-{report['period']}.csv"
        return Response(("\ufeff" + monitoring.as_csv(report)).encode("utf-8"), media_type=CSV,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return json_response(report)


def _period(svc: Services, first: date | None, last: date | None) -> register.Period:
    today = svc.clock.today()
    last = last or today
    return register.period(first or date(last.year, 1, 1), last, svc.clock.zone)


def procedure_names(svc: Services, numbers: set[str]) -> dict[str, str]:
    """number -> the definition's name as the current version has it."""
    current = svc.versions.current_versions()
    return {n: svc.versions.get(current[n]).name for n in numbers if n in current}

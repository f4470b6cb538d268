"""The applicant's cabinet over the API: their own appeals and administrative-procedure cases,
with status, registration number and due date, and each one's notices (the reply among them).

Filing is `POST /api/cases` (an appeal: `number` "appeal", channel `electronic`, docs/appeals.md)
and withdrawing `POST /api/cases/{id}/withdraw`, the routes staff use too; these routes only read
(engine.read.cabinet), and only the caller's own cases.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.problems import not_found
from api.schemas import Refusal, errors
from engine.read import cabinet

router = APIRouter(prefix="/api/me", route_class=StrictJsonRoute, tags=["cabinet"])
Svc = Annotated[Services, Depends(services)]
CaseId = Annotated[str, Path(min_length=1, max_length=64, description="case id (UUID)")]


class MyCase(BaseModel):
    id: str
    type: str
    number: str
    procedure: str
    reg_number: str | None
    kind: str | None
    topic: str | None
    status: str
    outcome: str | None
    ground: str | None
    authority: str
    channel: str
    started_at: datetime
    start_date: date
    due_date: date
    overdue: bool
    closed_at: datetime | None
    withdrawable: bool


class MyCasePage(BaseModel):
    items: list[MyCase]
    total: int
    limit: int
    offset: int


class MyNotice(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    created_at: datetime
    due_by: date | None
    href: str


class MyCaseDetail(MyCase):
    question: str | None
    notices: list[MyNotice]
    refusal: Refusal | None = None
    valid_until: date | None = Field(None, description="the last day the issued result is valid")


@router.get("/cases", response_model=MyCasePage, responses=errors(401, 403))
async def my_cases(user: CurrentUser, svc: Svc,
                   type: Annotated[Literal["procedure", "appeal", "remarks"] | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=cabinet.MAX_PAGE)] = 50,
                   offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    """Applicants: their own appeals and cases, newest first."""
    require_role(user, "applicant")
    with svc.db.connect() as conn:
        return json_response(cabinet.my_cases(conn, user.name, case_type=type, limit=limit,
                                              offset=offset))


@router.get("/cases/{case_id}", response_model=MyCaseDetail, responses=errors(401, 403, 404))
async def my_case(case_id: CaseId, user: CurrentUser, svc: Svc):
    """Applicants: one of their cases with its text and its notices; another's is 404."""
    require_role(user, "applicant")
    with svc.db.connect() as conn:
        found = cabinet.case_of(conn, user.name, case_id, svc.versions, svc.cases.calendar)
    if found is None:
        raise not_found(f"case {case_id} does not exist", field="case_id")
    return json_response(found)

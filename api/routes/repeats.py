"""Repeated appeals and termination of correspondence, for the staff of the appeal's authority.

`GET /api/cases/{id}/repeats` is the flag the clerk sees: the earlier appeals this one repeats
(engine.appeal_registers.repeats), the termination of correspondence it falls under and the public answer
that answers it, if any. `POST /api/cases/{id}/terminate-correspondence` is the supervisor's
decision (engine.appeal_registers.correspondence.record).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api import access
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import Request, Text, checked_by_engine, errors
from engine.appeal_registers import correspondence, public_answers, repeats
from engine.appeal_registers.correspondence import Termination
from engine.read import queries

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["appeals"])
Svc = Annotated[Services, Depends(services)]
CaseId = Annotated[str, Path(min_length=1, max_length=64, description="case id (UUID)")]
REPEAT_READERS = ("clerk", "supervisor", "auditor")


class EarlierOut(BaseModel):
    case_id: str
    reg_number: str | None
    outcome: str
    replied_at: datetime
    score: float = Field(description="how alike the questions are, 0-100 (85 and more: the same)")
    href: str


class TerminationOut(BaseModel):
    id: str
    case_id: str = Field(description="the appeal it was decided on")
    authority: str
    decided_by: str
    decided_at: datetime
    ground: str
    leave_ground: str = Field(description="the leave ground later appeals are left on")


class PublicAnswerRef(BaseModel):
    id: str
    title: str
    published_at: datetime
    href: str


class RepeatsOut(BaseModel):
    case_id: str
    repeated: bool
    earlier: list[EarlierOut]
    termination: TerminationOut | None
    public_answer: PublicAnswerRef | None


class TerminateIn(Request):
    ground: Annotated[Text, Field(min_length=1, max_length=correspondence.MAX_GROUND,
                                  description="why the authority answers no more appeals on it")]


def termination_json(found: Termination) -> dict:
    return {"id": found.id, "case_id": found.case_id, "authority": found.authority,
            "decided_by": found.decided_by, "decided_at": found.decided_at,
            "ground": found.ground, "leave_ground": correspondence.LEAVE_GROUND}


@router.get("/cases/{case_id}/repeats", response_model=RepeatsOut, responses=errors(401, 403, 404))
async def get_repeats(case_id: CaseId, user: CurrentUser, svc: Svc):
    """Whether the appeal repeats earlier answered ones of the same applicant at this authority
    (links to them), falls under a termination of correspondence, or has a public answer."""
    require_role(user, *REPEAT_READERS)
    access.visible_case(user, queries.case_facts(svc.db, case_id), case_id)
    with svc.db.connect() as conn:
        earlier = repeats.earlier_appeals(conn, case_id)
        found = correspondence.termination_for(conn, case_id)
        public = public_answers.answer_for(conn, case_id)
    return json_response({
        "case_id": case_id, "repeated": bool(earlier),
        "earlier": [{"case_id": e.case_id, "reg_number": e.reg_number, "outcome": e.outcome,
                     "replied_at": e.replied_at, "score": e.score,
                     "href": f"/api/cases/{e.case_id}"} for e in earlier],
        "termination": None if found is None else termination_json(found),
        "public_answer": None if public is None else {
            "id": public.id, "title": public.title, "published_at": public.published_at,
            "href": f"/answers/{public.authority}#answer-{public.id}"}})


@router.post("/cases/{case_id}/terminate-correspondence", status_code=201,
             response_model=TerminationOut, responses=errors(401, 403, 404, 409),
             openapi_extra=checked_by_engine("ground"))
async def terminate_correspondence(case_id: CaseId, body: TerminateIn, user: CurrentUser, svc: Svc):
    """Supervisors: stop answering the applicant of this appeal on its question (it must repeat
    an answered appeal); their later appeals on it are left without consideration."""
    require_role(user, "supervisor")
    access.visible_case(user, queries.case_facts(svc.db, case_id), case_id)
    done = correspondence.record(svc.db, case_id, body.ground, actor=user.name,
                                 now=svc.cases.now())
    return json_response(termination_json(done), 201)

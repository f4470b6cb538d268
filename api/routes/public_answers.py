"""Public answers to more than ten identical appeals: published by a supervisor, listed for
everyone (no sign-in, no personal data: engine.appeal_registers.public_answers)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api import access
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import Id, Request, Text, checked_by_engine, errors
from engine.appeal_registers import public_answers
from engine.appeal_registers.public_answers import Published
from engine.read import queries

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["appeals"])
Svc = Annotated[Services, Depends(services)]


class PublicAnswerOut(BaseModel):
    id: str
    authority: str
    topic: str | None
    title: str
    answer: str
    appeals: int = Field(description="how many identical appeals it answers")
    published_at: datetime


class PublicAnswerPage(BaseModel):
    items: list[PublicAnswerOut]
    total: int
    limit: int
    offset: int


class PublishIn(Request):
    case_id: Annotated[str, Field(min_length=1, max_length=64,
                                  description="one appeal of the group (the others are found by "
                                              "their wording)")]
    title: Annotated[Text, Field(min_length=1, max_length=public_answers.MAX_TITLE)]
    answer: Annotated[Text, Field(min_length=1, max_length=public_answers.MAX_ANSWER)]


def answer_json(item: Published) -> dict:
    return {"id": item.id, "authority": item.authority, "topic": item.topic, "title": item.title,
            "answer": item.answer, "appeals": item.appeals, "published_at": item.published_at}


@router.get("/public-answers", response_model=PublicAnswerPage, responses=errors())
async def list_public_answers(svc: Svc, authority: Annotated[Id | None, Query()] = None,
                              limit: Annotated[int, Query(ge=1, le=public_answers.MAX_PAGE)] = 50,
                              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    """Every public answer, newest first (of one authority if named). No sign-in needed."""
    with svc.db.connect() as conn:
        page = public_answers.published(conn, authority=authority, limit=limit, offset=offset)
    return json_response({**page, "items": [answer_json(i) for i in page["items"]]})


@router.post("/public-answers", status_code=201, response_model=PublicAnswerOut,
             responses=errors(401, 403, 404, 409),
             openapi_extra=checked_by_engine("title", "answer"))
async def publish_public_answer(body: PublishIn, user: CurrentUser, svc: Svc):
    """Supervisors: answer publicly the appeals identical to `case_id` (more than ten of them)."""
    require_role(user, "supervisor")
    access.visible_case(user, queries.case_facts(svc.db, body.case_id), body.case_id)
    done = public_answers.publish(svc.db, body.case_id, title=body.title, answer=body.answer,
                                  actor=user.name, now=svc.cases.now())
    return json_response(answer_json(done), 201)

"""Notices: a case's notices with their delivery, and the outbox as a supervisor sees it.

- `GET /api/cases/{id}/notices`: whoever may see the case (api.access: its authority's staff, its
  applicant, auditors); another's case answers 404 like one that does not exist.
- `GET /api/outbox`: the delivery of the supervisor's organisation's notices (an auditor: every
  organisation's): counts by status and the notices that failed or wait after a failed attempt.
- `POST /api/outbox/{notice_id}/retry`: a supervisor sends a failed notice of their organisation
  again (as `okno notices retry` does).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from api import access
from api.access import CASE_READERS
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import NoticesOut, OutboxOut, errors
from engine.notices import outbox
from engine.read import notices, queries

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["notices"])
Svc = Annotated[Services, Depends(services)]
CaseId = Annotated[str, Path(min_length=1, max_length=64, description="case id (UUID)")]
NoticeId = Annotated[str, Path(min_length=1, max_length=64, description="notice id (UUID)")]
OUTBOX_READERS = ("supervisor", "auditor")


@router.get("/cases/{case_id}/notices", response_model=NoticesOut, responses=errors(401, 403, 404))
async def case_notices(case_id: CaseId, user: CurrentUser, svc: Svc) -> Response:
    """The notices of a case, oldest first, each with its e-mail delivery (null: printed)."""
    require_role(user, *CASE_READERS)
    access.visible_case(user, queries.case_facts(svc.db, case_id), case_id)
    return json_response({"case_id": case_id, "notices": notices.case_notices(svc.db, case_id)})


@router.get("/outbox", response_model=OutboxOut, responses=errors(401, 403))
async def outbox_state(user: CurrentUser, svc: Svc,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Response:
    """How the organisation's notices are delivered, and the ones that need attention."""
    require_role(user, *OUTBOX_READERS)
    authority = None if user.role == "auditor" else user.org
    return json_response({
        "smtp_configured": svc.settings.smtp_host is not None,
        "counts": notices.outbox_counts(svc.db, authority),
        "items": notices.outbox_rows(svc.db, errors_only=True, authority=authority, limit=limit)})


@router.post("/outbox/{notice_id}/retry", status_code=204, responses=errors(401, 403, 404, 409))
async def retry_notice(notice_id: NoticeId, user: CurrentUser, svc: Svc) -> Response:
    """Send a failed notice again: a fresh set of attempts, the first at the next sweep; 409 if
    it has not failed."""
    require_role(user, "supervisor")
    outbox.retry(svc.db, notice_id, svc.cases.now(), authority=user.org)
    return Response(status_code=204)

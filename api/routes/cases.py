"""Cases, their audit trails, work lists and the commands clerks, applicants and supervisors send.

Each handler authorises (api.access), makes one engine call, and answers with the case's new
state. Commands answer with a `CommandResult` (status, row_version, the open tasks), which is
enough to carry on; `GET /api/cases/{id}` gives the full view.

The handlers are `async def` and call the (synchronous) engine directly, on purpose: a command
is CPU-bound under the GIL and SQLite takes one writer at a time, so a thread pool only adds
hand-offs and lets one process's threads queue on its own write lock. Each process runs one
request at a time; throughput scales with processes (`okno serve --workers N`), see docs/api.md.
"""
from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from sqlalchemy.engine import Connection, Engine
from starlette.responses import Response

from api import access
from api.access import CASE_CREATORS, CASE_READERS, EVENT_READERS, STAFF, WITHDRAWERS
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.idempotency import HEADER, run_once
from api.json_body import StrictJsonRoute
from api.problems import forbidden
from api.schemas import (
    Assign,
    CaseCreate,
    CaseOut,
    CasePage,
    CaseStatus,
    CommandResult,
    Complete,
    Decide,
    DocumentStatus,
    EventsOut,
    ExtendIn,
    ForwardIn,
    GroundIn,
    InformationIn,
    IsoDate,
    Issue,
    LeaveIn,
    MessageIn,
    RemarksPage,
    ReplyIn,
    TaskPage,
    Unclaim,
    Withdraw,
    checked_by_engine,
    errors,
)
from engine import accounts
from engine.accounts import User
from engine.errors import InvalidInput, NotAllowed
from engine.idempotency import Remember
from engine.read import queries
from engine.read.appeal_view import remarks_book

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["cases"])
Svc = Annotated[Services, Depends(services)]
CaseId = Annotated[str, Path(min_length=1, max_length=64, description="case id (UUID)")]
TaskId = Annotated[str, Path(min_length=1, max_length=64, description="task id (UUID)")]
DocId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                            description="document id from the procedure's checklist")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
IdemKey = Annotated[str | None, Header(alias=HEADER, max_length=255, pattern=r"^[!-~]([ -~]*[!-~])?$",
                                       description="retry safely: the first answer is replayed")]
Filter = Annotated[str | None, Query(min_length=1, max_length=128)]


def _case(svc: Services, user: User, case_id: str, roles: tuple[str, ...],
          task_id: str | None = None) -> dict:
    """Role may use the route (403), the case is visible to the caller (404)."""
    require_role(user, *roles)
    return access.visible_case(user, queries.case_facts(svc.db, case_id, task_id), case_id)


def _result(svc: Services, case_id: str, status: int = 200) -> Response:
    return json_response(queries.case_status(svc.db, case_id), status)


# ------------------------------------------------------------------------------------ cases

@router.post("/cases", status_code=201, response_model=CaseOut, responses=errors(401, 403, 404, 409),
             openapi_extra=checked_by_engine("channel", "category", "option", "exempt", "authority",
                                             "applicant_user", "data", "data.*"))
async def create_case(body: CaseCreate, user: CurrentUser, svc: Svc, key: IdemKey = None):
    """Register an application, an appeal or an entry in the book of remarks (with `data`, see
    docs/appeals.md); every case gets its registration number. Staff register it for their own
    organisation; an applicant files their own, electronically (channel portal; an appeal:
    electronic), naming the authority."""
    require_role(user, *CASE_CREATORS)
    if user.role == "applicant":
        electronic = "portal" if svc.versions.current(body.number).is_procedure else "electronic"
        if body.applicant not in (None, user.name):
            raise forbidden("applicants file their own applications only", field="applicant")
        if body.applicant_user not in (None, user.name):
            raise forbidden("applicants file their own applications only", field="applicant_user")
        if body.channel not in (None, electronic):
            raise InvalidInput(f"applicants file electronically: channel must be '{electronic}'",
                               field="channel")
        if body.exempt:
            raise forbidden("a fee exemption is confirmed by a clerk against its document; "
                            "apply without it and present the document", field="exempt")
        if body.authority is None:
            raise InvalidInput("name the authority you apply to", field="authority")
        if not accounts.org_has_staff(svc.db, body.authority):
            raise InvalidInput(f"no authority {body.authority!r} works in okno", field="authority")
        applicant, channel, authority = user.name, electronic, body.authority
        applicant_user = user.name
    else:
        if body.applicant is None:  # the body of an applicant's own application (the portal's)
            raise forbidden("staff register an application for an applicant: name the applicant "
                            "(filing one's own application is for applicant accounts)",
                            field="applicant")
        if body.channel is None:
            raise InvalidInput("channel is required", field="channel")
        applicant, channel = body.applicant, body.channel
        authority = access.staff_authority(user, body.authority)
        applicant_user = body.applicant_user
        linked = None if applicant_user is None else accounts.get_account(svc.db, applicant_user)
        if applicant_user is not None and (linked is None or linked.role != "applicant"):
            raise InvalidInput(f"there is no applicant account {applicant_user!r}",
                               field="applicant_user")

    def start(remember: Remember | None) -> str:
        return svc.cases.start(body.number, applicant=applicant, channel=channel,
                               authority=authority, actor=user.name, category=body.category,
                               exempt=body.exempt, applicant_user=applicant_user,
                               data=None if body.data is None else body.data.model_dump(),
                               remember=remember, option=body.option)

    def location(case_id: str) -> dict[str, str]:
        return {"Location": f"/api/cases/{case_id}"}

    def respond(db: Connection | Engine, case_id: str) -> Response:
        return json_response(queries.case_view(db, case_id, svc.versions, svc.cases.calendar), 201,
                             headers=location(case_id))

    return run_once(svc, user.name, key, "POST /api/cases", body.model_dump(mode="json"), start,
                    respond, replay_headers=lambda stored: location(orjson.loads(stored)["id"]))


@router.get("/cases", response_model=CasePage, responses=errors(401, 403))
async def list_cases(user: CurrentUser, svc: Svc,
               status: Annotated[CaseStatus | None, Query()] = None,
               number: Annotated[str | None, Query(max_length=32)] = None,
               authority: Filter = None, applicant: Filter = None,
               due_before: IsoDate | None = None, overdue: bool | None = None,
               type: Annotated[Literal["procedure", "appeal", "remarks"] | None, Query()] = None,
               limit: Limit = 50, offset: Offset = 0):
    """Cases the caller may see, newest first: staff their organisation's, applicants their own,
    auditors all. A filter outside the caller's scope yields an empty page."""
    require_role(user, *CASE_READERS)
    if user.role in STAFF and authority not in (None, user.org):
        return json_response({"items": [], "total": 0, "total_capped": False, "limit": limit,
                              "offset": offset})
    page = queries.list_cases(svc.db, status=status, number=number,
                              authority=user.org if user.role in STAFF else authority,
                              applicant=applicant,
                              applicant_user=user.name if user.role == "applicant" else None,
                              due_before=due_before, overdue=overdue, limit=limit, offset=offset,
                              type=type)
    return json_response(page)


@router.get("/cases/{case_id}", response_model=CaseOut, responses=errors(401, 403, 404))
async def get_case(case_id: CaseId, user: CurrentUser, svc: Svc):
    """One case: status, fee, dates, open tasks, the document checklist and the data collected."""
    _case(svc, user, case_id, CASE_READERS)
    return json_response(queries.case_view(svc.db, case_id, svc.versions, svc.cases.calendar))


@router.get("/cases/{case_id}/events", response_model=EventsOut, responses=errors(401, 403, 404))
async def get_events(case_id: CaseId, user: CurrentUser, svc: Svc):
    """The audit trail of a case, and whether it verifies: its keyed chain, and its stored facts
    recomputed from its events."""
    _case(svc, user, case_id, EVENT_READERS)
    breaks = svc.cases.ledger.verify(svc.db, case_id).breaks
    return json_response({"case_id": case_id, "chain_ok": not breaks,
                          "breaks": [str(b) for b in breaks],
                          "events": queries.case_events(svc.db, case_id)})


# ------------------------------------------------------------------------------------ tasks

@router.get("/tasks", response_model=TaskPage, tags=["tasks"], responses=errors(401, 403))
async def list_tasks(user: CurrentUser, svc: Svc,
               role: Annotated[str | None, Query(max_length=64,
                                                 description="the step's job role id")] = None,
               acts_as: Literal["clerk", "supervisor"] | None = None,
               state: Literal["open", "done", "cancelled"] = "open",
               due_before: IsoDate | None = None, overdue: bool | None = None,
               mine: Annotated[bool, Query(description="only tasks I have claimed")] = False,
               limit: Limit = 50, offset: Offset = 0):
    """The caller's work list, earliest due first: tasks of their organisation. A clerk sees
    clerk tasks nobody claimed and their own; a supervisor sees every task of the organisation."""
    require_role(user, *STAFF)
    if acts_as is None:
        acts_as_filter: str | tuple[str, ...] = "clerk" if user.role == "clerk" else STAFF
    else:
        acts_as_filter = acts_as
    page = queries.worklist(
        svc.db, authority=user.org, acts_as=acts_as_filter, role=role, state=state,
        assignee=user.name if mine else None,
        unassigned_or=user.name if (user.role == "clerk" and not mine and state == "open") else None,
        due_before=due_before, overdue=overdue, today=svc.clock.today(), limit=limit,
        offset=offset)
    return json_response(page)


@router.post("/cases/{case_id}/tasks/{task_id}/claim", response_model=CommandResult,
             tags=["tasks"], responses=errors(401, 403, 404, 409))
async def claim(case_id: CaseId, task_id: TaskId, user: CurrentUser, svc: Svc):
    """Take a task into your own work list."""
    facts = _case(svc, user, case_id, STAFF, task_id)
    access.may_perform(user, facts["task"], task_id)
    svc.cases.claim(case_id, task_id, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/tasks/{task_id}/unclaim", response_model=CommandResult,
             tags=["tasks"], responses=errors(401, 403, 404, 409))
async def unclaim(case_id: CaseId, task_id: TaskId, user: CurrentUser, svc: Svc,
            body: Unclaim | None = None):
    """Give a task back to the shared work list (a supervisor may force it)."""
    facts = _case(svc, user, case_id, STAFF, task_id)
    force = bool(body and body.force)
    if force and user.role != "supervisor":
        raise forbidden("only a supervisor may take back another's task", field="force")
    if not force:
        access.may_perform(user, facts["task"], task_id)
    elif facts["task"] is None:
        access.may_perform(user, None, task_id)
    svc.cases.unclaim(case_id, task_id, actor=user.name, force=force)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/tasks/{task_id}/assign", response_model=CommandResult,
             tags=["tasks"], responses=errors(401, 403, 404, 409))
async def assign(case_id: CaseId, task_id: TaskId, body: Assign, user: CurrentUser, svc: Svc):
    """Supervisors: give an open task to a named clerk of the case's authority (422 naming
    `assignee` when they are not an enabled clerk of it)."""
    facts = _case(svc, user, case_id, ("supervisor",), task_id)
    if facts["task"] is None:
        access.may_perform(user, None, task_id)  # 404: no such task in this case
    svc.cases.reassign(case_id, task_id, body.assignee, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/tasks/{task_id}/complete", response_model=CommandResult,
             tags=["tasks"], responses=errors(401, 403, 404, 409),
             openapi_extra=checked_by_engine("data.*"))
async def complete(case_id: CaseId, task_id: TaskId, body: Complete, user: CurrentUser, svc: Svc,
             key: IdemKey = None):
    """Complete a task with its form data; decision steps take `{"outcome", "ground"}`."""
    facts = _case(svc, user, case_id, STAFF, task_id)
    access.may_perform(user, facts["task"], task_id)

    def run(remember: Remember | None) -> str:
        svc.cases.complete_task(case_id, task_id, body.data, actor=user.name,
                                expected_version=body.expected_version, remember=remember)
        return case_id

    route = f"POST /api/cases/{case_id}/tasks/{task_id}/complete"
    return run_once(svc, user.name, key, route, body.model_dump(mode="json"), run,
                    lambda db, _: json_response(queries.case_status(db, case_id)))


# ------------------------------------------------------------------------------------ commands

def _kind_task(svc: Services, user: User, case_id: str, kind: str) -> str:
    """The id of the waiting task of `kind`, once the caller may perform it (role and claim)."""
    task = queries.open_task_of_kind(svc.db, case_id, kind)
    if task is None:
        raise NotAllowed(f"no {kind} step is waiting in this case")
    access.may_perform(user, task, task["id"])
    return task["id"]


@router.post("/cases/{case_id}/documents/{doc_id}", response_model=CommandResult,
             tags=["documents"], responses=errors(401, 403, 404, 409))
async def record_document(case_id: CaseId, doc_id: DocId, body: DocumentStatus, user: CurrentUser,
                    svc: Svc):
    """Mark a listed document presented, requested from another body, or received. A document
    the procedure does not list is refused (409): Directive No. 2, §2.2."""
    _case(svc, user, case_id, STAFF)
    svc.cases.record_document(case_id, doc_id, body.status, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/information", response_model=CommandResult,
             tags=["documents"], responses=errors(401, 403, 404, 409))
async def record_information(case_id: CaseId, body: InformationIn, user: CurrentUser, svc: Svc):
    """Record a free request of documents or information from another body (`received: false`)
    or its answer (`received: true`); the request extends the term to `when_documents_requested`."""
    _case(svc, user, case_id, STAFF)
    svc.cases.record_information(case_id, body.body, body.asked, actor=user.name,
                                 received=body.received)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/withdraw", response_model=CommandResult,
             responses=errors(401, 403, 404, 409))
async def withdraw(case_id: CaseId, user: CurrentUser, svc: Svc, body: Withdraw | None = None):
    """The applicant withdraws the application (staff may record a withdrawal)."""
    _case(svc, user, case_id, WITHDRAWERS)
    svc.cases.withdraw(case_id, actor=user.name, reason=body.reason if body else None)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/refuse-acceptance", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("ground"))
async def refuse_acceptance(case_id: CaseId, body: GroundIn, user: CurrentUser, svc: Svc):
    """Refuse to accept the application on a ground of Law No. 433-З (before intake is done)."""
    _case(svc, user, case_id, STAFF)
    svc.cases.refuse_acceptance(case_id, body.ground, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/suspend", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("ground"))
async def suspend(case_id: CaseId, body: GroundIn, user: CurrentUser, svc: Svc):
    """Suspend the case where the procedure allows it; the term stops running."""
    _case(svc, user, case_id, STAFF)
    svc.cases.suspend(case_id, body.ground, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/resume", response_model=CommandResult,
             responses=errors(401, 403, 404, 409))
async def resume(case_id: CaseId, user: CurrentUser, svc: Svc):
    """Resume a suspended case; the due date moves by the days it was suspended."""
    _case(svc, user, case_id, STAFF)
    svc.cases.resume(case_id, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/messages", response_model=CommandResult,
             responses=errors(401, 403, 404, 409, 422), openapi_extra=checked_by_engine("name"))
async def deliver_message(case_id: CaseId, body: MessageIn, user: CurrentUser, svc: Svc):
    """Deliver a BPMN message to the event of a drawn process that waits for it (409 naming
    `name` if none does); its variables land in the catching task's data."""
    _case(svc, user, case_id, STAFF)
    svc.cases.deliver_message(case_id, body.name, body.variables, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/decide", response_model=CommandResult,
             responses=errors(401, 403, 404, 409),
             openapi_extra=checked_by_engine("ground", "data.*"))
async def decide(case_id: CaseId, body: Decide, user: CurrentUser, svc: Svc):
    """Complete the waiting decision step: approve, or refuse naming a legal ground."""
    _case(svc, user, case_id, STAFF)
    task_id = _kind_task(svc, user, case_id, "decision")
    svc.cases.decide(case_id, body.outcome, actor=user.name, ground=body.ground, data=body.data,
                     task_id=task_id)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/issue", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("data.*"))
async def issue(case_id: CaseId, user: CurrentUser, svc: Svc, body: Issue | None = None):
    """Complete the waiting issue step: the result is handed over."""
    _case(svc, user, case_id, STAFF)
    task_id = _kind_task(svc, user, case_id, "issue")
    svc.cases.issue_result(case_id, actor=user.name, data=body.data if body else None,
                           task_id=task_id)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/close", response_model=CommandResult,
             responses=errors(401, 403, 404, 409))
async def close(case_id: CaseId, user: CurrentUser, svc: Svc):
    """Archive a case that has ended (completed, withdrawn or not accepted)."""
    _case(svc, user, case_id, STAFF)
    svc.cases.close(case_id, actor=user.name)
    return _result(svc, case_id)


# ------------------------------------------------------------------- appeals (Law 300-З)

@router.post("/cases/{case_id}/forward", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("to"))
async def forward(case_id: CaseId, body: ForwardIn, user: CurrentUser, svc: Svc):
    """Forward an appeal to the competent authority (of the authorities catalog), with the
    forwarding notice; the term counts again from today."""
    _case(svc, user, case_id, STAFF)
    svc.cases.forward(case_id, body.to, actor=user.name, note=body.note)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/extend", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("extension"))
async def extend(case_id: CaseId, body: ExtendIn, user: CurrentUser, svc: Svc):
    """Extend the term as the definition allows (extra study: 1 month), with its notice."""
    _case(svc, user, case_id, STAFF)
    svc.cases.extend(case_id, body.extension, actor=user.name)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/leave", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("ground"))
async def leave(case_id: CaseId, body: LeaveIn, user: CurrentUser, svc: Svc):
    """Leave an appeal without consideration on the merits on a ground of its definition."""
    _case(svc, user, case_id, STAFF)
    svc.cases.leave(case_id, body.ground, actor=user.name, note=body.note)
    return _result(svc, case_id)


@router.post("/cases/{case_id}/reply", response_model=CommandResult,
             responses=errors(401, 403, 404, 409), openapi_extra=checked_by_engine("outcome", "reply"))
async def reply(case_id: CaseId, body: ReplyIn, user: CurrentUser, svc: Svc):
    """Answer an appeal (or a book entry): its waiting reply step, an outcome of its definition
    and the reply's text, with the reply notice."""
    _case(svc, user, case_id, STAFF)
    task_id = _kind_task(svc, user, case_id, "decision")
    svc.cases.reply(case_id, body.outcome, body.reply, actor=user.name, task_id=task_id)
    return _result(svc, case_id)


@router.get("/remarks-book", response_model=RemarksPage, responses=errors(401, 403, 422),
            openapi_extra=checked_by_engine("authority"))
async def get_remarks_book(user: CurrentUser, svc: Svc, authority: Filter = None,
                           limit: Limit = 50, offset: Offset = 0):
    """The record of an authority's book of remarks and suggestions: entries and their answers,
    newest first. Staff see their own organisation's (`authority` omitted or theirs); auditors
    name the authority."""
    require_role(user, *EVENT_READERS)
    if user.role in STAFF:
        if authority not in (None, user.org):
            raise forbidden("staff see their own organisation's book", field="authority")
        authority = user.org
    elif authority is None:
        raise InvalidInput("name the authority whose book to show", field="authority")
    return json_response(remarks_book(svc.db, authority, limit=limit, offset=offset))

"""External tasks: workers fetch, lock, complete or fail the drawn service tasks of cases
(the Camunda 7 external-task pattern, engine.bpmn.external).

A worker signs in as a supervisor of the authority whose cases it serves (WORKERS): it sees
and locks only that authority's tasks. Bodies are bounded; lock durations are milliseconds.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import FormData, Request, errors
from engine.read import queries
from engine.runtime.commands import MAX_RETRIES

router = APIRouter(prefix="/api/external-tasks", route_class=StrictJsonRoute, tags=["external tasks"])
Svc = Annotated[Services, Depends(services)]
WORKERS = ("supervisor",)
MAX_LOCK_MS = 24 * 3600 * 1000  # a day
TaskId = Annotated[str, Path(min_length=1, max_length=64, description="external task id")]
WorkerId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Topic = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
LockMs = Annotated[int, Field(ge=1, le=MAX_LOCK_MS, description="milliseconds")]


class TopicIn(Request):
    name: Topic
    lock_duration: LockMs


class FetchIn(Request):
    worker_id: WorkerId
    max_tasks: Annotated[int, Field(ge=1, le=100)] = 10
    topics: Annotated[list[TopicIn], Field(min_length=1, max_length=20)]


class CompleteIn(Request):
    worker_id: WorkerId
    variables: FormData = Field(default_factory=dict)


class FailureIn(Request):
    worker_id: WorkerId
    error_message: Annotated[str, Field(min_length=1, max_length=2000)]
    retries: Annotated[int, Field(ge=0, le=100)]
    retry_timeout: Annotated[int, Field(ge=0, le=MAX_LOCK_MS, description="milliseconds")] = 0


class RetriesIn(Request):
    retries: Annotated[int, Field(ge=1, le=MAX_RETRIES,
                                  description="retries the task gets: fetchable again at once")]


class ExtendIn(Request):
    worker_id: WorkerId
    new_duration: LockMs


def _task_out(row: dict) -> dict:
    until = row["lock_expires_at"]
    return {"id": row["id"], "topic": row["topic"], "case_id": row["case_id"], "step": row["step"],
            "worker_id": row["worker_id"], "lock_expires_at": until.isoformat() if until else None,
            "retries": row["retries"], "variables": row.get("variables", {})}


@router.post("/fetch-and-lock", responses=errors(401, 403))
async def fetch_and_lock(body: FetchIn, user: CurrentUser, svc: Svc):
    """Lock up to `max_tasks` waiting tasks of the topics for `worker_id` (each topic with its
    lock duration); answers them with their case's variables."""
    require_role(user, *WORKERS)
    topics = {t.name: t.lock_duration for t in body.topics}
    rows = svc.cases.fetch_and_lock(body.worker_id, topics, body.max_tasks, actor=user.name,
                                    authority=user.org)
    return json_response([_task_out(r) for r in rows])


@router.post("/{task_id}/complete", responses=errors(401, 403, 404, 409))
async def complete(task_id: TaskId, body: CompleteIn, user: CurrentUser, svc: Svc):
    """Complete a task the worker holds: its variables land in the case, the flow goes on."""
    require_role(user, *WORKERS)
    case_id = svc.cases.complete_external(task_id, body.worker_id, body.variables,
                                          actor=user.name, authority=user.org)
    return json_response(queries.case_status(svc.db, case_id))


@router.post("/{task_id}/failure", responses=errors(401, 403, 404, 409))
async def failure(task_id: TaskId, body: FailureIn, user: CurrentUser, svc: Svc):
    """Report a failure: fetchable again after `retry_timeout` ms while `retries` > 0; at 0 an
    incident on the case."""
    require_role(user, *WORKERS)
    case_id = svc.cases.fail_external(task_id, body.worker_id, body.error_message, body.retries,
                                      body.retry_timeout, actor=user.name, authority=user.org)
    return json_response(queries.case_status(svc.db, case_id))


@router.post("/{task_id}/extend-lock", responses=errors(401, 403, 404, 409))
async def extend_lock(task_id: TaskId, body: ExtendIn, user: CurrentUser, svc: Svc):
    """The worker's lock runs `new_duration` ms from now."""
    require_role(user, *WORKERS)
    until = svc.cases.extend_lock(task_id, body.worker_id, body.new_duration, authority=user.org)
    return json_response({"id": task_id, "lock_expires_at": until.isoformat()})


@router.post("/{task_id}/retries", responses=errors(401, 403, 404, 409, 422))
async def set_retries(task_id: TaskId, body: RetriesIn, user: CurrentUser, svc: Svc):
    """Resolve an incident (a task whose worker reported a failure with no retries left): it
    gets `retries` (1 to 100) and workers may fetch it again at once; audited on its case
    (`external_retries`). A supervisor of the case's authority; 409 if the task is no incident
    or is done."""
    require_role(user, *WORKERS)
    case_id = svc.cases.reset_retries(task_id, body.retries, actor=user.name, authority=user.org)
    return json_response(queries.case_status(svc.db, case_id))

"""Moving the running cases of a procedure to another of its versions (engine/runtime/migration.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import Request, errors

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["procedures"])
Svc = Annotated[Services, Depends(services)]
Number = Annotated[str, Path(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){0,3}$", max_length=32,
                             description="procedure number, e.g. 2.1")]
MIGRATORS = ("analyst",)  # migration follows publication, which is the analyst's


class MigrationCreate(Request):
    to: str = Field(min_length=1, max_length=64, pattern=r"^(current|[0-9a-f]{6,64})$",
                    description='the target version: its hash, a prefix of 6+ characters, or "current"')
    dry_run: bool = Field(False, description="check only: move nothing")


class MigrationReasonOut(BaseModel):
    code: str = Field(description="not_running, same_version, task_removed, task_type_changed, "
                                  "field_required_added, field_type_changed, data_invalid, "
                                  "term_longer, option_removed, state_incompatible, conflict")
    text: str = Field(description="why, in Russian, for clerks")


class MigrationVerdictOut(BaseModel):
    case_id: str
    reg_number: str | None
    status: str
    from_: str = Field(alias="from")
    to: str
    movable: bool
    moved: bool
    reasons: list[MigrationReasonOut]
    diff: dict[str, list[str]] = Field(description="the steps of the case's tasks removed and changed")


class MigrationRunOut(BaseModel):
    to: str
    dry_run: bool
    cases: list[MigrationVerdictOut]


@router.post("/procedures/{number}/migrations", response_model=MigrationRunOut,
             responses=errors(401, 403, 404))
def migrate_cases(number: Number, body: MigrationCreate, user: CurrentUser, svc: Svc):
    """Check every running case of the procedure that is on another version than `to` and, unless
    `dry_run`, move those that can move (one transaction and one audit event each); the blocked
    ones are listed with their reasons and left as they are (docs/engine.md, *Migrating running
    cases*)."""
    require_role(user, *MIGRATORS)
    target = svc.cases.resolve_version(number, body.to)
    verdicts = svc.cases.migrate_procedure(number, target, actor=user.name, dry_run=body.dry_run)
    return json_response({"to": target, "dry_run": body.dry_run,
                          "cases": [v.as_dict() for v in verdicts]})

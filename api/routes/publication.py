"""Publishing a changed catalog without a restart: validate and publish uploaded files."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from api.access import DIFF_READERS
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.problems import ApiError, problem
from api.schemas import CHECKED_BY_ENGINE, PublicationOut, ValidationOut, errors
from engine.definition.validation import Problem
from engine.diff.model import diff_to_json
from engine.publication.files import MAX_FILES, MAX_TOTAL_BYTES, validate_files
from engine.publication.publish import MAX_CONFIRMATIONS, BurdensUnconfirmed, InvalidFiles, publish

# Multipart, not JSON: no StrictJsonRoute here (the body is bounded by api.limits' BodyLimits).
router = APIRouter(prefix="/api/catalog", tags=["catalog"])
Svc = Annotated[Services, Depends(services)]
# The files' content (and that one is given) is the validator's to judge: it names the file.
CHECKED = {CHECKED_BY_ENGINE: ["files", "files.*", "confirm_burdens"]}
Files = Annotated[list[UploadFile], File(description="definitions (.yaml) and the BPMN files they "
                                                     "name; the file name is the upload's filename "
                                                     f"(e.g. bpmn/2.2.bpmn); at most {MAX_FILES}")]


async def _read(files: list[UploadFile]) -> dict[str, bytes]:
    if len(files) > MAX_FILES:
        raise ApiError(422, f"at most {MAX_FILES} files at once", field="files")
    out: dict[str, bytes] = {}
    total = 0
    for upload in files:
        raw = await upload.read(MAX_TOTAL_BYTES + 1 - total)
        total += len(raw)
        if total > MAX_TOTAL_BYTES:
            raise ApiError(422, f"at most {MAX_TOTAL_BYTES} bytes in all", field="files")
        name = (upload.filename or "")[:300]
        if name in out:
            raise ApiError(422, f"the file {name!r} is given twice", field="files")
        out[name] = raw
    return out


def _problems(problems: list[Problem]) -> list[dict]:
    return [{"file": p.path, "line": p.line, "column": p.column, "message": p.message}
            for p in problems]


@router.post("/validate", response_model=ValidationOut, responses=errors(401, 403), openapi_extra=CHECKED)
async def validate_catalog(user: CurrentUser, files: Files):
    """Check uploaded catalog files as `okno validate` does: EVERY problem with file, line and
    column (empty when valid). Nothing is stored. For analysts, supervisors and auditors."""
    require_role(user, *DIFF_READERS)
    _procedures, problems = validate_files(await _read(files))
    return json_response({"problems": _problems(problems)})


@router.post("/publish", status_code=201, response_model=PublicationOut,
             responses=errors(401, 403, 409), openapi_extra=CHECKED)
async def publish_catalog(
    user: CurrentUser, svc: Svc, files: Files,
    confirm_burdens: Annotated[list[str], Form(
        max_length=MAX_CONFIRMATIONS,
        description="procedure numbers whose burden increases (Directive No. 2 §2.3: longer "
                    "term, more documents, new or higher fee) the analyst confirms")] = [],  # noqa: B006
):
    """Validate, diff against the current catalog and publish the uploaded definitions: all new
    versions become current together in one transaction, with one publication record (who,
    what, the diff summary). Every server and worker process serves them within ~2 s.

    422 (with `problems`) for invalid files, 409 (with `burdens`: the changes) for burden
    increases whose procedure number is not in `confirm_burdens`; the database is then unchanged.
    Analysts only."""
    require_role(user, "analyst")
    given = await _read(files)
    try:
        done = publish(svc.versions, given, actor=user.name, confirm_burdens=confirm_burdens,
                       writer=svc.cases.ledger.writer)
    except InvalidFiles as exc:
        return _refused(422, exc.detail, "files",
                        [{"field": f"files.{p['file']}", "detail": str(p['line']) + ":"
                          + str(p['column']) + ": " + p['message']} for p in _problems(exc.problems)])
    except BurdensUnconfirmed as exc:
        return _refused(409, exc.detail, "confirm_burdens",
                        [{"field": "confirm_burdens", "detail": f"{c.number}: {c.message}"}
                         for c in exc.changes])
    return json_response({"id": done.id, "versions": done.versions,
                          "diff": diff_to_json(done.diff)}, status=201)


def _refused(status: int, detail: str, field: str, errors_: list[dict]):
    return problem(status, detail, field=field, errors=errors_,
                   slug="invalid-input" if status == 422 else "not-allowed")

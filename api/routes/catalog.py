"""The catalog: procedures as the information stand shows them, their BPMN, and the diff."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from api import presenters
from api.access import DIFF_READERS
from api.auth import CurrentUser, require_role
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.problems import ApiError, not_found
from api.schemas import DiffOut, ProcedureDetail, ProcedureSummary, errors
from engine.definition.procedure import Procedure
from engine.diff.model import diff_to_json
from engine.diff.pairing import diff_catalogs
from engine.errors import NotFound
from engine.money import FeeOnDate, fee_on
from engine.process.compile import bpmn_text
from engine.read import queries

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["procedures"])
Svc = Annotated[Services, Depends(services)]
Number = Annotated[str, Path(pattern=r"^([0-9]{1,3}(\.[0-9]{1,3}){0,3}|[a-z][a-z0-9-]{1,31})$", max_length=32,
                             description="procedure number, e.g. 2.6 or 1.1.5")]
VERSION_RE = re.compile(r"^[0-9a-f]{64}$")
# A side of a diff, as the OpenAPI document states it (what _side accepts).
CATALOG_SIDE = {"anyOf": [{"enum": ["current"]}, {"format": "date"}, {"format": "date-time"},
                          {"pattern": VERSION_RE.pattern}]}
On = Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", max_length=10,
                                  json_schema_extra={"format": "date"},
                                  description="the date fees are converted to roubles on "
                                              "(ISO YYYY-MM-DD; default: today)")]


def _day(on: str | None, svc: Services) -> date:
    """The `on` query as a date (strict ISO: no timestamps), or today."""
    if on is None:
        return svc.clock.today()
    try:
        return date.fromisoformat(on)
    except ValueError:
        raise ApiError(422, f"on must be a date YYYY-MM-DD, not {on!r}", field="query.on") from None


def _money(svc: Services, proc: Procedure, day: date) -> FeeOnDate:
    return fee_on(proc.fee, svc.base_units.get(), day)


def _procedure(svc: Services, number: str, version: str | None = None) -> Procedure:
    try:
        if version is None:
            return svc.versions.current(number)
        proc = svc.versions.get(version)
    except NotFound as exc:
        raise not_found(exc.detail, field="version" if version else "number") from None
    if proc.number != number:
        raise not_found(f"version {version} is not a version of procedure {number}",
                        field="version")
    return proc


@router.get("/procedures", response_model=list[ProcedureSummary], responses=errors(401))
def list_procedures(_user: CurrentUser, svc: Svc, on: On = None):
    """The current catalog, in the official list's order: number, name, version, fee (also in
    roubles on `on`), term."""
    day = _day(on, svc)
    current = svc.versions.current_versions()
    procedures = [svc.versions.get(v) for v in current.values()]
    return json_response([presenters.procedure_summary(p, _money(svc, p, day)) for p in procedures])


@router.get("/procedures/{number}", response_model=ProcedureDetail, responses=errors(401, 404))
def get_procedure(number: Number, _user: CurrentUser, svc: Svc,
                  version: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                                       description="a stored version (default: "
                                                                   "the current one)")] = None,
                  on: On = None):
    """A procedure in full: documents, requested documents, fee (also in roubles on `on`), term,
    validity, steps, history."""
    day = _day(on, svc)
    proc = _procedure(svc, number, version)
    current = svc.versions.current_versions().get(number)
    return json_response(presenters.procedure_detail(proc, svc.versions.history(number), current,
                                                     _money(svc, proc, day)))


@router.get("/procedures/{number}/bpmn", responses={
    200: {"content": {"application/xml": {"schema": {"type": "string"}}},
          "description": "BPMN 2.0 XML with diagram"}, **errors(401, 404)})
def get_bpmn(number: Number, _user: CurrentUser, svc: Svc,
             version: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None):
    """The BPMN 2.0 XML of a procedure (drawn by hand, or compiled from its steps)."""
    return Response(bpmn_text(_procedure(svc, number, version)), media_type="application/xml")


def _side(svc: Services, spec: str, name: str) -> tuple[dict[str, Procedure], str]:
    """A catalog side: 'current', an ISO date or timestamp, or one stored version hash."""
    if spec == "current":
        current = svc.versions.current_versions()
        return {n: svc.versions.get(v) for n, v in current.items()}, "current"
    if VERSION_RE.fullmatch(spec):
        try:
            proc = svc.versions.get(spec)
        except NotFound:
            raise not_found(f"version {spec} is not stored", field=f"query.{name}") from None
        return {proc.number: proc}, f"version:{spec[:12]}"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec):  # a date: the catalog at the end of that day
            at = datetime.combine(date.fromisoformat(spec), time.max, tzinfo=UTC)
        else:
            at = datetime.fromisoformat(spec)
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            try:
                at = at.astimezone(UTC)
            except OverflowError:  # year 1 or 9999 with an offset: before or after every version
                at = datetime.min.replace(tzinfo=UTC) if at.year == 1 else datetime.max.replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(422, f"{name} must be 'current', an ISO date or timestamp, or a version "
                            "hash", field=f"query.{name}") from None
    versions = queries.catalog_as_of(svc.db, at)
    return {n: svc.versions.get(v) for n, v in versions.items()}, at.isoformat()


@router.get("/catalog/diff", response_model=DiffOut, tags=["catalog"],
            responses=errors(401, 403, 404))
def catalog_diff(
    user: CurrentUser, svc: Svc,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=64,
                                description="'current', an ISO date/timestamp (the catalog as "
                                            "published then), or a version hash",
                                json_schema_extra=CATALOG_SIDE)],
    to: Annotated[str, Query(min_length=1, max_length=64, json_schema_extra=CATALOG_SIDE)] = "current",
    number: Annotated[str | None, Query(max_length=32, description="only this procedure")] = None,
):
    """Semantic diff of two stored catalogs (engine.diff): burdens, simplifications, neutral.

    A side that is a single version hash compares that one procedure; the other side is then
    narrowed to the same number.
    """
    require_role(user, *DIFF_READERS)
    old, old_label = _side(svc, from_, "from")
    new, new_label = _side(svc, to, "to")
    keep: set[str] | None = None
    for side, label in ((old, old_label), (new, new_label)):
        if label.startswith("version:"):
            keep = set(side) | (keep or set())
    if number:
        keep = {number} if keep is None else keep & {number}
    if keep is not None:
        old = {n: p for n, p in old.items() if n in keep}
        new = {n: p for n, p in new.items() if n in keep}
    return json_response(diff_to_json(diff_catalogs(old, new, old_label=old_label,
                                                    new_label=new_label,
                                                    calendar=svc.cases.calendar)))

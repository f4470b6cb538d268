"""Request and response bodies: pydantic models, so the OpenAPI document says exactly what is sent.

Requests refuse unknown keys (`extra="forbid"`), so a misspelt field is a 422 naming it rather
than silently ignored. Form data (`data`) is an object of JSON values checked against the
step's fields by the engine; here it is only bounded (depth, size, 64-bit integers, valid
Unicode) so nothing reaches storage that the store or the audit trail cannot hold.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from engine.text import FREE_TEXT_PATTERN, NAME_PATTERN, text_problem

INT64 = 2**63 - 1
MAX_DATA_ITEMS = 200
MAX_DEPTH = 5
# An OpenAPI extension on an operation: the request fields the engine checks against the case,
# its procedure or its step (a ground of this procedure, the fields of this step, "data.*"),
# which no schema can state. A schema-valid request is refused with 422 only naming one of them.
CHECKED_BY_ENGINE = "x-okno-checked-by-engine"


def checked_by_engine(*fields: str) -> dict[str, Any]:
    """`openapi_extra` for an operation whose `fields` the engine checks (see CHECKED_BY_ENGINE)."""
    return {CHECKED_BY_ENGINE: list(fields)}


def _name(value: str) -> str:
    problem = text_problem(value, free=False)
    if problem is not None:
        raise ValueError(problem)
    return value


def _free_text(value: str) -> str:
    problem = text_problem(value, free=True)
    if problem is not None:
        raise ValueError(problem)
    return value


def _json_value(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"values nest at most {MAX_DEPTH} levels deep")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not -INT64 - 1 <= value <= INT64:
            raise ValueError("numbers must lie within the 64-bit integer range")
    elif isinstance(value, float):
        if not -(2.0**63) <= value <= 2.0**63:  # the same range, as floats compare with it
            raise ValueError("numbers must lie within the 64-bit integer range")
    elif isinstance(value, str):
        _free_text(value)
    elif isinstance(value, list):
        if len(value) > MAX_DATA_ITEMS:
            raise ValueError(f"at most {MAX_DATA_ITEMS} items")
        for item in value:
            _json_value(item, depth + 1)
    elif isinstance(value, dict):
        if len(value) > MAX_DATA_ITEMS:
            raise ValueError(f"at most {MAX_DATA_ITEMS} keys")
        for key, item in value.items():
            _name(key)
            _json_value(item, depth + 1)


def _form_data(value: dict[str, Any]) -> dict[str, Any]:
    _json_value(value)
    return value


def _value_schema(depth: int) -> dict[str, Any]:
    """What `_json_value` accepts at `depth`, as JSON Schema (a container at MAX_DEPTH is empty)."""
    inner = _value_schema(depth + 1) if depth < MAX_DEPTH else {}
    items = MAX_DATA_ITEMS if depth < MAX_DEPTH else 0
    return {"anyOf": [
        {"type": "string", "pattern": FREE_TEXT_PATTERN},
        {"type": "number", "minimum": -INT64 - 1, "maximum": INT64},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "maxItems": items, "items": inner},
        {"type": "object", "maxProperties": items, "propertyNames": {"pattern": NAME_PATTERN},
         "additionalProperties": inner},
    ]}


FORM_DATA_SCHEMA = {"type": "object", "maxProperties": MAX_DATA_ITEMS,
                    "propertyNames": {"pattern": NAME_PATTERN},
                    "additionalProperties": _value_schema(1)}


def _optional_keys_omitted(*any_of: dict[str, Any]) -> Any:
    """`json_schema_extra` for a model whose optional keys are omitted, never null (a default
    of None is not a value one may send), and whose body is one of `any_of`."""

    def extra(schema: dict[str, Any]) -> None:
        for prop in schema.get("properties", {}).values():
            if prop.get("default", ...) is None:
                del prop["default"]
        if any_of:
            schema["anyOf"] = list(any_of)

    return extra


Text = Annotated[str, Field(json_schema_extra={"pattern": FREE_TEXT_PATTERN}),
                 AfterValidator(_free_text)]
Name = Annotated[str, Field(min_length=1, max_length=128, json_schema_extra={"pattern": NAME_PATTERN}),
                 AfterValidator(_name)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
FormData = Annotated[dict[str, Any], AfterValidator(_form_data), WithJsonSchema(FORM_DATA_SCHEMA)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------- auth

class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class Me(BaseModel):
    name: str
    role: Literal["analyst", "clerk", "supervisor", "applicant", "auditor"]
    org: str


# ----------------------------------------------------------------------------------- catalog

class GroundOut(BaseModel):
    id: str
    title: str
    legal_basis: str | None = None


class FeeCategoryOut(BaseModel):
    id: str
    title: str
    base_units: float
    byn: str | None = Field(None, description="in roubles on `fee.on` (null: no base unit "
                                              "value is known for that date)")


class BaseUnitOut(BaseModel):
    byn: str = Field(description="the base unit's value in roubles, e.g. \"45.00\"")
    effective_from: date
    basis: str | None = None
    unverified: bool


class FeeCellOut(BaseModel):
    when: dict[str, list[str]] = Field(description="axis -> the choices this cell covers; an "
                                                   "axis not named: any choice")
    base_units: float = Field(description="0: free")
    byn: str | None = Field(None, description="in roubles on `fee.on` (null: no base unit "
                                              "value is known for that date)")


class FeeOut(BaseModel):
    kind: Literal["free", "base_units", "by_category", "table"]
    base_units: float = Field(description="for kind base_units: the multiple of the base unit")
    categories: list[FeeCategoryOut]
    axes: list[str] = Field(description="for kind table: the intake choice fields it prices by")
    cells: list[FeeCellOut] = Field(description="for kind table: every combination of the axes' "
                                                "choices is in exactly one cell")
    exemptions: list[GroundOut]
    notes: str | None = None
    on: date = Field(description="the date the roubles are computed for (query `on`, default "
                                 "today)")
    base_unit: BaseUnitOut | None = Field(description="the base unit in force on `on`; null "
                                                      "before the first known value")
    byn: str | None = Field(description="the fee in roubles on `on` (\"0.00\" when free); null "
                                        "for kinds by_category and table (see categories, cells) "
                                        "or when no base "
                                        "unit value is known")


class TermOut(BaseModel):
    max: str
    when_documents_requested: str | None = None
    counted_from: str
    notes: str | None = None


class ValidityUntilOut(BaseModel):
    field: str = Field(description="the date field of the case's forms the date is counted from")
    after: str | None = Field(None, description="the length added to that date (\"14 years\")")
    title: str | None = None


class ValidityOut(BaseModel):
    kind: str
    duration: str | None = None
    event: str | None = None
    until: ValidityUntilOut | None = Field(
        None, description="a computed date: caps a duration's expiry, or is an until_event's expiry")


class ProcedureSummary(BaseModel):
    number: str
    name: str
    version: str
    type: Literal["procedure", "appeal", "remarks"]
    channels: list[str]
    fee: FeeOut
    term: TermOut
    validity: ValidityOut


class PresentedDocumentOut(BaseModel):
    id: str
    title: str
    notes: str | None = None
    condition: str | None = None
    optional: bool = Field(False, description="intake completes without it")
    may_be_requested: bool = Field(
        False, description="the authority may request it instead: intake accepts it recorded as requested")


class RequestedDocumentOut(BaseModel):
    id: str
    title: str
    source: str
    citizen_may_bring: bool
    fee: float | None = None
    fee_byn: str | None = Field(None, description="the document's fee in roubles on `fee.on`")
    condition: str | None = None
    notes: str | None = None


class ChoiceOut(BaseModel):
    id: str
    title: str


class FieldOut(BaseModel):
    id: str
    title: str
    type: str
    required: bool
    pattern: str | None = None
    min: float | str | None = None  # a date field's bound: YYYY-MM-DD or 'today - 150 years'
    max: float | str | None = None
    max_length: int | None = None
    choices: list[ChoiceOut]


class StepOut(BaseModel):
    id: str
    kind: str
    title: str
    role: str
    condition: str | None = None
    term: str | None = None
    fields: list[FieldOut]


class RoleOut(BaseModel):
    id: str
    title: str
    acts_as: Literal["clerk", "supervisor"]


class AuthorityOut(BaseModel):
    kind: str
    title: str


class VersionOut(BaseModel):
    version: str
    loaded_at: datetime
    seq: int
    current: bool


class ExtensionOut(BaseModel):
    id: str
    title: str
    term: str


class CitationOut(BaseModel):
    kind: Literal["official", "secondary", "unverified"] = Field(
        description="official text / a page reproducing the list / from knowledge, not compared")
    act: str | None = None
    url: str | None = None
    edition: str | None = Field(None, description="ISO date of the act's edition followed")
    checked: str = Field(description="ISO date the definition was last compared with the source")
    notes: str | None = None


class ProcedureDetail(ProcedureSummary):
    chapter: int
    legal_basis: list[str]
    source: CitationOut | None = Field(description="where the definition's facts come from")
    authorities: list[AuthorityOut]
    documents: list[PresentedDocumentOut]
    requested_documents: list[RequestedDocumentOut]
    result: str
    roles: list[RoleOut]
    steps: list[StepOut]
    refusal_grounds: list[GroundOut]
    acceptance_refusal_grounds: list[GroundOut]
    suspension_allowed: bool
    suspension_grounds: list[GroundOut]
    kinds: list[ChoiceOut] = Field(description="an appeal's kinds (statement, proposal, complaint)")
    topics: list[ChoiceOut] = Field(description="an appeal's subject categories")
    outcomes: list[ChoiceOut] = Field(description="the outcomes of the decision (reply) step")
    leave_grounds: list[GroundOut] = Field(description="grounds of leaving an appeal without consideration")
    extensions: list[ExtensionOut] = Field(description="the ways the term may be extended")
    history: list[VersionOut]
    definition: dict[str, Any] = Field(description="the definition as written (YAML as JSON)")


class DiffSide(BaseModel):
    source: str
    procedures: int


class DiffChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    old_number: str | None
    new_number: str | None
    procedure: str
    kind: str
    class_: Literal["burden", "simplification", "neutral"] = Field(alias="class")
    path: str
    old: str | int | float | bool | None
    new: str | int | float | bool | None
    message: str


class DiffOut(BaseModel):
    schema_: str = Field(alias="schema")
    old: DiffSide
    new: DiffSide
    summary: dict[str, int]
    changes: list[DiffChange]


class FileProblem(BaseModel):
    """One problem of an uploaded catalog file, where an editor can jump to it."""

    file: str
    line: int
    column: int
    message: str


class ValidationOut(BaseModel):
    problems: list[FileProblem]  # empty when the files are valid


class PublicationOut(BaseModel):
    id: int | None  # the publication's number; null when every definition was already current
    versions: dict[str, str]  # procedure number -> the version that became current
    diff: DiffOut  # against the versions that were current


# ----------------------------------------------------------------------------------- cases

class AppealData(Request):
    """What an appeal (or an entry in the book of remarks) is registered with: its kind and topic
    (ids from the definition's lists, checked by the engine), its text, and where notices go."""

    kind: Id
    topic: Id
    question: Annotated[Text, Field(min_length=1, max_length=10_000)]
    anonymous: bool = False
    reports_crime: bool = Field(False, description="an anonymous appeal that reports a crime is considered")
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s<>]+@[^@\s<>]+$")] = Field(
        None, description="where the notices are sent; omitted: they are printed")
    address: Annotated[Text, Field(min_length=1, max_length=500)] = Field(
        None, description="the postal address printed notices go to")


class CaseCreate(Request):
    """Staff name the applicant and the channel; an applicant (filing their own, through the
    portal) names the authority instead. Optional keys are omitted, never null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_optional_keys_omitted(
        {"required": ["applicant", "channel"]},
        {"required": ["authority"], "not": {"required": ["applicant"]}},
    ))

    number: Annotated[Name, Field(max_length=32)]
    applicant: Name = Field(None, description="staff: required (an anonymous appeal is stored as "
                                              "'аноним' whatever is given); applicants: omit (it is you)")
    applicant_user: Name = Field(
        None, description="staff: the applicant's okno account, if they have one, so they can "
                          "follow the case; applicants: omit (it is you)")
    channel: Literal["in_person", "post", "portal", "written", "oral", "electronic"] = Field(
        None, description="staff: required (a procedure: in_person, post, portal; an appeal: "
                          "written, oral, electronic); applicants file through the portal "
                          "(an appeal: electronic)")
    category: Id = Field(None, description="the fee category, where the procedure has them")
    option: Id = Field(None, description="the service option (the procedure's `options`, e.g. "
                                         "an accelerated order): its term and fee are the case's; "
                                         "omitted: the default option")
    exempt: bool = False
    authority: Name = Field(
        None, description="staff: omit (your organisation); applicants: required — an "
                          "organisation that has staff in okno")
    data: AppealData = Field(None, description="an appeal's or a book entry's registration data "
                                               "(docs/appeals.md); a procedure takes none")


class TaskOut(BaseModel):
    id: str
    case_id: str
    step: str
    kind: str
    title: str
    role: str
    acts_as: Literal["clerk", "supervisor"]
    authority: str
    state: Literal["open", "done", "cancelled"]
    assignee: str | None = None
    due_date: date | None = None


class WorkItem(TaskOut):
    case_status: str
    number: str


_TOTAL = "how many match, counted up to 1000 (see total_capped)"
_CAPPED = "true: the count stopped at total, and more match"


class TaskPage(BaseModel):
    items: list[WorkItem]
    total: int = Field(description=_TOTAL)
    total_capped: bool = Field(description=_CAPPED)
    limit: int
    offset: int


class CaseFee(BaseModel):
    kind: Literal["free", "base_units", "by_category", "table"]
    base_units: float | None = Field(description="what the applicant owes, in base units (0 if "
                                                 "exempt); null for kind table until the intake "
                                                 "data name its cell")
    category: str | None = None
    exempt: bool
    cell: dict[str, str] | None = Field(None, description="for kind table once intake is done: "
                                                          "axis -> the choice made")


class CaseOption(BaseModel):
    id: str
    title: str
    term: str = Field(description="the option's maximum term, as the definition writes it")


class ChecklistItem(BaseModel):
    id: str
    title: str
    kind: Literal["presented", "requested"] = Field(
        description="presented by the citizen, or requested by the authority itself")
    needed: Literal["yes", "maybe"] = Field(
        description="maybe: its condition cannot be evaluated with the data collected so far")
    condition: str | None = None
    status: Literal["presented", "requested", "received"] | None = None
    source: str | None = None
    citizen_may_bring: bool
    fee: float | None = None


CaseStatus = Literal["open", "suspended", "completed", "withdrawn", "not_accepted", "closed"]


Outcome = Annotated[str, Field(description="a procedure: approved | refused; an appeal: "
                                           "satisfied | not_satisfied | explained | "
                                           "left_without_consideration | withdrawn; a book "
                                           "entry: answered")]


class MigrationOut(BaseModel):
    at: datetime
    actor: str
    from_: str = Field(alias="from", description="the version the case ran before")
    to: str = Field(description="the version it runs since")
    diff: dict[str, list[str]] = Field(description="the steps of its tasks removed and changed")


class ExternalTaskOut(BaseModel):
    id: str
    topic: str
    step: str
    locked_by: str | None
    lock_expires_at: datetime | None
    retries: int | None
    error_message: str | None
    incident: bool


class Refusal(BaseModel):
    """A refusal by decision: the ground's text and the appeal route (engine/notices/refusal.py)."""

    ground: str
    ground_title: str | None = Field(None, description="the ground's text (None: no longer listed)")
    legal_basis: str | None = None
    superior_body: str | None = Field(None, description="where to appeal: the procedure's `appeal`")
    appeal_term: str | None = None
    appeal_until: date | None = Field(None, description="the last day to appeal (working-day calendar)")


class CaseOut(BaseModel):
    id: str
    number: str
    version: str
    procedure: str
    type: Literal["procedure", "appeal", "remarks"]
    reg_number: str | None = Field(None, description="{authority}-{yyyy}-{nnnnnn}, given on the "
                                                     "day of receipt")
    kind: str | None = None
    kind_title: str | None = None
    topic: str | None = None
    topic_title: str | None = None
    question: str | None = None
    email: str | None = None
    address: str | None = None
    anonymous: bool = False
    extension: str | None = Field(None, description="the extension of the term applied last")
    forwarded_from: str | None = None
    forwarded_on: date | None = None
    notices: list[NoticeOut] = Field(default_factory=list)
    status: CaseStatus
    outcome: Outcome | None = None
    ground: str | None = None
    refusal: Refusal | None = Field(None, description="set when the decision refused")
    valid_until: date | None = Field(
        None, description="the last day the issued result is valid, when the definition computes "
                          "it (validity duration and/or until); set once the case closed approved")
    applicant: str
    applicant_user: str | None = Field(None, description="the applicant's okno account, if linked")
    channel: str
    authority: str
    fee: CaseFee
    option: CaseOption | None = Field(None, description="the service option chosen at intake")
    started_at: datetime
    start_date: date
    due_date: date
    overdue: bool
    suspended_on: date | None = None
    closed_at: datetime | None = None
    documents_requested: bool
    row_version: int = Field(description="send as expected_version to guard against lost updates")
    tasks: list[TaskOut]
    documents: list[ChecklistItem]
    data: dict[str, Any] = Field(description="form data collected so far (from the audit trail)")
    external_tasks: list[ExternalTaskOut] = Field(default_factory=list, description=(
        "drawn service tasks waiting for a worker (docs/engine.md, External tasks)"))
    waiting_messages: list[str] = Field(default_factory=list, description=(
        "names of the BPMN messages the case waits for now: what POST "
        "/api/cases/{id}/messages accepts (docs/engine.md, Waiting messages)"))
    migrations: list[MigrationOut] = Field(default_factory=list, description=(
        "the case's moves to other versions of its procedure, oldest first (docs/engine.md, "
        "*Migrating running cases*); `version` is the one it runs now"))


class CaseSummary(BaseModel):
    id: str
    number: str
    procedure: str
    type: Literal["procedure", "appeal", "remarks"]
    reg_number: str | None = None
    kind: str | None = None
    topic: str | None = None
    status: CaseStatus
    outcome: Outcome | None = None
    applicant: str
    channel: str
    authority: str
    start_date: date
    due_date: date
    overdue: bool
    row_version: int


class RemarksEntry(BaseModel):
    id: str
    reg_number: str | None = None
    started_at: datetime
    start_date: date
    applicant: str
    kind: str | None = None
    topic: str | None = None
    text: str | None = Field(None, description="the entry as written in the book")
    status: CaseStatus
    outcome: str | None = None
    due_date: date
    answered_at: datetime | None = None
    answer: str | None = Field(None, description="the answer's text, once given")


class RemarksPage(BaseModel):
    items: list[RemarksEntry]
    total: int
    limit: int
    offset: int


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description=_TOTAL)
    total_capped: bool = Field(description=_CAPPED)
    limit: int
    offset: int


class CommandResult(BaseModel):
    """The case after a command: enough to carry on (the next open tasks)."""

    id: str
    status: CaseStatus
    outcome: Outcome | None = None
    ground: str | None = None
    row_version: int
    due_date: date
    tasks: list[TaskOut]


class EventOut(BaseModel):
    case_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    step: str | None = None
    data: dict[str, Any]
    digest: str
    prev_hash: str
    hash: str


class EventsOut(BaseModel):
    case_id: str
    chain_ok: bool = Field(description="the hash chain of this case verifies")
    breaks: list[str]
    events: list[EventOut]


# ------------------------------------------------------------------------------------ notices

OutboxStatusOut = Literal["pending", "sending", "sent", "failed"]


class NoticeDelivery(BaseModel):
    """The notice's e-mail delivery through the outbox (engine/notices/outbox.py)."""

    status: OutboxStatusOut
    attempts: int = Field(description="attempts started (since the last retry)")
    next_attempt_at: datetime = Field(description="pending: the next attempt; sending: the "
                                                  "end of the worker's lease")
    last_error: str | None = Field(None, description="what the server answered to the last "
                                                     "failed attempt")
    sent_at: datetime | None = None
    message_id: str | None = None


class NoticeOut(BaseModel):
    id: str
    kind: str = Field(description="the notice's id in the definition")
    title: str
    recipient: str | None = Field(None, description="the e-mail address; null: printed")
    created_at: datetime
    due_by: date | None = Field(None, description="the last day the law allows for sending it")
    href: str = Field(description="the printable page")
    delivery: NoticeDelivery | None = Field(None, description="null: not sent by e-mail")


class NoticesOut(BaseModel):
    case_id: str
    notices: list[NoticeOut]


class OutboxRow(NoticeDelivery):
    notice_id: str
    case_id: str
    reg_number: str | None = None
    authority: str
    title: str
    address: str
    created_at: datetime
    href: str


class OutboxCounts(BaseModel):
    pending: int
    sending: int
    sent: int
    failed: int
    retrying: int = Field(description="pending after a failed attempt")


class OutboxOut(BaseModel):
    """One organisation's notices in the outbox (an auditor's: every organisation's)."""

    smtp_configured: bool = Field(description="false: nothing is sent until OKNO_SMTP_HOST is set")
    counts: OutboxCounts
    items: list[OutboxRow] = Field(description="failed, and pending after a failed attempt; the "
                                               "next attempt soonest first")


# ----------------------------------------------------------------------------------- commands

class Complete(Request):
    data: FormData = Field(default_factory=dict, description="the step's form fields")
    expected_version: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        None, description="the case's row_version you saw; 409 if it moved on")


class Unclaim(Request):
    force: bool = Field(False, description="supervisors: take a task back from another clerk")


class Assign(Request):
    assignee: Name = Field(description="an enabled clerk (or supervisor) of the case's authority")


class DocumentStatus(Request):
    status: Literal["presented", "requested", "received"]


class InformationIn(Request):
    body: Annotated[Text, Field(min_length=1, max_length=500)]
    asked: Annotated[Text, Field(min_length=1, max_length=500)]
    received: bool = False


class Withdraw(Request):
    reason: Annotated[Text, Field(max_length=2000)] | None = None


class MessageIn(Request):
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                               description="the BPMN message name a waiting event catches")]
    variables: FormData = Field(default_factory=dict, description="set in the catching task's data")


class GroundIn(Request):
    ground: Id


Note = Annotated[Text, Field(min_length=1, max_length=4000)]


class ForwardIn(Request):
    to: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9-]{1,63}$",
                             description="the competent authority's id (authorities catalog)")]
    note: Note = Field(None, description="quoted in the forwarding notice")


class ExtendIn(Request):
    extension: Id = Field(description="an extension of the definition's term (extra_study, …)")


class LeaveIn(Request):
    ground: Id = Field(description="a ground of leaving without consideration of the definition")
    note: Note = Field(None, description="quoted in the notice")


class ReplyIn(Request):
    outcome: Id = Field(description="an outcome of the definition: satisfied, not_satisfied, "
                                    "explained (a book entry: answered)")
    reply: Annotated[Text, Field(min_length=1, max_length=20_000)]


class Decide(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"properties": {"outcome": {"const": "approve"}, "ground": {"type": "null"}}},
        {"properties": {"outcome": {"const": "refuse"}, "ground": {"type": "string"}},
         "required": ["ground"]},
    ]})

    outcome: Literal["approve", "refuse"]
    ground: Id | None = Field(None, description="a refusal names its legal ground")
    data: FormData = Field(default_factory=dict)


class Issue(Request):
    data: FormData = Field(default_factory=dict)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = Field(None, description="the request part at fault, e.g. data.child_order")
    errors: list[dict[str, str]] | None = None


_DESCRIPTIONS = {401: "Not authenticated (no, expired or invalid token, or the account was disabled "
                      "or changed since the token was issued)",
                 403: "The caller's role may not do this",
                 404: "No such resource, or not visible to the caller",
                 409: "Not allowed in the case's current state, or a concurrent change",
                 422: "Invalid input; `field` names the part at fault"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem+json errors with the given status codes (422 always)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*codes, 422}):
        out[code] = {"description": _DESCRIPTIONS.get(code, "Error"),
                     "content": {"application/problem+json": {
                         "schema": {"$ref": "#/components/schemas/Problem"}}}}
    return out


def _iso_date_text(value: Any) -> Any:
    """Dates in queries are YYYY-MM-DD text only: pydantic alone would read '1.5e-9' as a Unix time."""
    if isinstance(value, str) and not (len(value) == 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError("a date YYYY-MM-DD is expected")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]

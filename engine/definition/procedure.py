"""The Procedure: one definition of the catalog as it states it, immutable.

A Procedure is built by `engine.definition.build` from a validated YAML file and is the single
source of truth for the workflow, the document checklist, the fee, the deadline and the catalog
diff. Its `type` says what it defines: an administrative procedure (`procedure`), citizens'
appeals (`appeal`, Law No. 300-З) or the book of remarks and suggestions (`remarks`); the last two
add kinds, topics, outcomes, grounds of leaving without consideration, forwarding and notices
(see docs/appeals.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

STEP_KINDS = ("intake", "request_documents", "review", "decision", "issue", "task")
TYPES = ("procedure", "appeal", "remarks")
CHANNELS = ("in_person", "post", "portal")
APPEAL_CHANNELS = ("written", "oral", "electronic")  # Law No. 300-З: written, oral, electronic
# Outcomes the engine records itself (not by the decision step), so a definition cannot name them.
LEFT, WITHDRAWN, FORWARDED = "left_without_consideration", "withdrawn", "forwarded"
RESERVED_OUTCOMES = frozenset({LEFT, WITHDRAWN, FORWARDED, "approved", "refused"})
# The placeholders a notice text may use: the values a command computes (docs/authoring.md).
NOTICE_PLACEHOLDERS = frozenset({
    "reg_number", "registered_on", "applicant", "address", "authority_name", "authority",
    "due_date", "question", "kind_title", "topic_title", "ground_title", "legal_basis",
    "forwarded_to_name", "forwarded_to", "extension_title", "outcome_title", "reply", "note",
    "today", "superior_body", "appeal_term", "appeal_until",
})
# Names every condition may use besides the form fields of the steps (see docs/authoring.md).
BUILTIN_NAMES = frozenset({"channel", "category", "exempt", "documents_requested", "option"})


@dataclass(frozen=True, slots=True)
class Ground:
    """A legal ground: for refusal, refusing to accept, suspension, or a fee exemption."""

    id: str
    title: str
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    """A body of the row; `role`: it receives the application, decides, or both."""

    kind: str
    title: str
    role: str = "both"

    @property
    def decides(self) -> bool:
        return self.role != "receives"

    @property
    def receives(self) -> bool:
        return self.role != "decides"


@dataclass(frozen=True, slots=True)
class PresentedDocument:
    """A document the citizen presents; with a condition it is needed only when that holds.

    Intake completes only once every needed one is recorded as presented (or, where
    `may_be_requested`, as requested by the authority instead); an `optional` one is never
    needed."""

    id: str
    title: str
    notes: str | None = None
    condition: str | None = None
    optional: bool = False
    may_be_requested: bool = False


@dataclass(frozen=True, slots=True)
class RequestedDocument:
    """A document the authority requests itself; the citizen may still bring it."""

    id: str
    title: str
    source: str
    citizen_may_bring: bool = True
    fee: float | None = None
    condition: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class FeeCategory:
    id: str
    title: str
    base_units: float


@dataclass(frozen=True, slots=True)
class FeeCell:
    """One cell of a fee table: the choices of each axis it covers (an axis it leaves out: any
    choice) and the base units owed for them (0: free)."""

    when: tuple[tuple[str, tuple[str, ...]], ...]
    base_units: float

    def choices(self, axis: str) -> tuple[str, ...] | None:
        """The choices of `axis` the cell covers; None: every choice."""
        return dict(self.when).get(axis)

    def matches(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(axis) in chosen for axis, chosen in self.when)


@dataclass(frozen=True, slots=True)
class Fee:
    """kind is 'free', 'base_units', 'by_category' or 'table'; amounts are multiples of the base
    unit. A table prices by up to three intake choice fields (`axes`) at once: the one cell that
    matches the case's intake data gives the amount."""

    kind: str
    base_units: float = 0
    categories: tuple[FeeCategory, ...] = ()
    exemptions: tuple[Ground, ...] = ()
    notes: str | None = None
    axes: tuple[str, ...] = ()
    cells: tuple[FeeCell, ...] = ()

    def cell(self, values: Mapping[str, Any]) -> FeeCell | None:
        """The table cell for intake data `values`; None while an axis has no value yet."""
        if any(values.get(axis) is None for axis in self.axes):
            return None
        for cell in self.cells:
            if cell.matches(values):
                return cell
        raise KeyError(f"no fee cell for {dict((a, values.get(a)) for a in self.axes)!r}")

    def amount(self, category: str | None = None, exempt: bool = False,
               values: Mapping[str, Any] | None = None) -> float | None:
        """Base units the applicant owes for this procedure; for a table, None until the intake
        data (`values`) name a cell."""
        if self.kind == "free" or exempt:
            return 0
        if self.kind == "base_units":
            return self.base_units
        if self.kind == "table":
            cell = self.cell(values or {})
            return None if cell is None else cell.base_units
        for cat in self.categories:
            if cat.id == category:
                return cat.base_units
        raise KeyError(f"unknown fee category {category!r}")


@dataclass(frozen=True, slots=True)
class Extension:
    """A way to extend the term: `term` counted from the start replaces the maximum, once."""

    id: str
    title: str
    term: str
    notice: str | None = None  # the notice the extension sends, if any
    requires: str | None = None  # an extension that must have been applied first
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class Term:
    """The legal maximum term, as written in the definition ('15 days', '1 month', 'same day')."""

    max: str
    when_documents_requested: str | None = None
    # application | documents_received | next_day, or "field:<id>": from the date a form gives
    counted_from: str = "application"
    notes: str | None = None
    extensions: tuple[Extension, ...] = ()

    @property
    def counted_from_field(self) -> str | None:
        """The date field the term counts from (`counted_from: {field: …}`), None otherwise."""
        return self.counted_from.removeprefix("field:") if self.counted_from.startswith("field:") \
            else None

    def extension(self, extension_id: str) -> Extension:
        for ext in self.extensions:
            if ext.id == extension_id:
                return ext
        raise KeyError(extension_id)


@dataclass(frozen=True, slots=True)
class ServiceOption:
    """An alternative order of service the applicant chooses at intake (a passport in 1 month,
    15 days or 7 days): for the case that chooses it, `term` replaces the term's maximum and
    `fee` the procedure's fee. `default` marks the option a case takes when none is chosen."""

    id: str
    title: str
    term: str
    fee: Fee
    default: bool = False
    legal_basis: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """An outcome of the decision (reply) step; `records` is what `cases.outcome` stores."""

    id: str
    title: str
    notice: str | None = None
    records: str | None = None

    @property
    def stored(self) -> str:
        return self.records or self.id


# A procedure's decision: approve, or refuse on a legal ground (its definition names no outcomes).
PROCEDURE_OUTCOMES = (Outcome("approve", "Положительное решение", records="approved"),
                      Outcome("refuse", "Отказ", records="refused"))


@dataclass(frozen=True, slots=True)
class NoticeGround:
    """A ground of leaving an appeal without consideration, with the notice that says so."""

    id: str
    title: str
    legal_basis: str
    notice: str
    within: str = "5 working days"  # counted from registration: when the notice is due


@dataclass(frozen=True, slots=True)
class Forwarding:
    """Forwarding to the competent authority within `within`, with `notice` to the applicant."""

    within: str
    notice: str
    legal_basis: str | None = None
    restarts_term: bool = True


@dataclass(frozen=True, slots=True)
class AnonymousRule:
    """An anonymous appeal is left without consideration on `ground`, unless it reports a crime
    and `when_reporting_crime` is 'consider'."""

    ground: str
    when_reporting_crime: str = "consider"


@dataclass(frozen=True, slots=True)
class NoticeText:
    """A notice as the definition writes it: its title and text with {placeholders}."""

    id: str
    title: str
    text: str
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class ValidityUntil:
    """A date computed from a case's date field plus `after` (the 14th birthday: birth_date +
    14 years): it caps a duration's expiry, or is an until_event validity's expiry."""

    field: str
    after: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Validity:
    """kind is 'duration', 'unlimited', 'until_event' or 'lump_sum'; `until` computes the expiry
    (engine.definition.validity)."""

    kind: str
    duration: str | None = None
    event: str | None = None
    until: ValidityUntil | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where the definition's facts come from (its `source` block): kind is 'official',
    'secondary' or 'unverified'; dates are ISO days."""

    kind: str
    checked: str
    act: str | None = None
    url: str | None = None
    edition: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Appeal:
    superior_body: str
    term: str
    court: bool = True


@dataclass(frozen=True, slots=True)
class Role:
    """A job role that performs steps; acts_as is the system role whose work list shows them."""

    id: str
    title: str
    acts_as: str


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Field:
    """A form field of a step, with the validation the API applies to submitted data."""

    id: str
    title: str
    type: str
    required: bool = False
    pattern: str | None = None
    min: float | str | None = None  # a date field's bound is text (engine.definition.date_bound)
    max: float | str | None = None
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: str
    title: str
    role: str
    fields: tuple[Field, ...] = ()
    condition: str | None = None
    term: str | None = None
    notes: str | None = None
    waits_for_documents: bool = True  # a decision: approval waits for every requested document


@dataclass(frozen=True, slots=True)
class Procedure:
    """One procedure version. `version` is the content hash of its definition (and BPMN file)."""

    number: str
    chapter: int
    name: str
    names: tuple[tuple[str, str], ...]
    authorities: tuple[Authority, ...]
    channels: tuple[str, ...]
    documents: tuple[PresentedDocument, ...]
    requested_documents: tuple[RequestedDocument, ...]
    fee: Fee
    term: Term
    validity: Validity
    result: str
    roles: tuple[Role, ...]
    steps: tuple[Step, ...]
    refusal_grounds: tuple[Ground, ...]
    acceptance_refusal_grounds: tuple[Ground, ...]
    suspension_allowed: bool
    suspension_grounds: tuple[Ground, ...]
    version: str
    source: str
    legal_basis: tuple[str, ...] = ()
    citation: Citation | None = None  # the definition's `source` block (`source` is the file)
    appeal: Appeal | None = None
    bpmn: str | None = None  # the drawn BPMN file's path, relative to the definition
    # The role of drawn user and manual tasks in no lane (`bpmn: {file, default_role}`).
    bpmn_default_role: str | None = None
    bpmn_xml: str | None = field(default=None, repr=False)
    definition_json: bytes = field(default=b"{}", repr=False)
    # The BPMN compiled from `steps` when this version was first published, as stored with it
    # (set by `engine.versions`): a later compiler never changes the process of a running case.
    # Not part of the definition, so it takes no part in equality or the version hash.
    pinned_xml: str | None = field(default=None, compare=False, repr=False)
    type: str = "procedure"
    kinds: tuple[Choice, ...] = ()
    topics: tuple[Choice, ...] = ()
    outcomes: tuple[Outcome, ...] = PROCEDURE_OUTCOMES
    leave_grounds: tuple[NoticeGround, ...] = ()
    forwarding: Forwarding | None = None
    anonymous: AnonymousRule | None = None
    notices: tuple[NoticeText, ...] = ()
    options: tuple[ServiceOption, ...] = ()  # alternative orders of service (docs/authoring.md)

    @property
    def is_procedure(self) -> bool:
        return self.type == "procedure"

    @property
    def definition(self) -> dict[str, Any]:
        """The definition as written (a fresh copy each time: the Procedure stays immutable)."""
        return orjson.loads(self.definition_json)

    def role(self, role_id: str) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(role_id)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def fee_axis(self, axis: str) -> Field:
        """The intake choice field a fee table prices by."""
        for step in self.steps:
            if step.kind == "intake":
                for fld in step.fields:
                    if fld.id == axis:
                        return fld
        raise KeyError(axis)

    def fee_cell_terms(self, cell: FeeCell) -> tuple[tuple[str, str], ...]:
        """A fee table cell in Russian: (the axis field's title, the titles of the choices it
        covers, «любой» for an axis it leaves open), in the table's axis order."""
        terms = []
        for axis in self.fee.axes:
            fld = self.fee_axis(axis)
            chosen = cell.choices(axis)
            titles = {c.id: c.title for c in fld.choices}
            terms.append((fld.title, "любой" if chosen is None
                          else " или ".join(titles.get(c, c) for c in chosen)))
        return tuple(terms)

    def document_ids(self) -> frozenset[str]:
        """Every document this version lists, presented or requested: nothing else may be asked."""
        return frozenset(d.id for d in self.documents) | frozenset(
            d.id for d in self.requested_documents
        )

    def outcome(self, outcome_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)

    def leave_ground(self, ground_id: str) -> NoticeGround:
        for ground in self.leave_grounds:
            if ground.id == ground_id:
                return ground
        raise KeyError(ground_id)

    def notice(self, notice_id: str) -> NoticeText:
        for notice in self.notices:
            if notice.id == notice_id:
                return notice
        raise KeyError(notice_id)

    def choice_title(self, pool: str, choice_id: str | None) -> str | None:
        """The title of a kind or topic (`pool` is 'kinds' or 'topics'), None if unknown."""
        for choice in getattr(self, pool):
            if choice.id == choice_id:
                return choice.title
        return None

    def ground(self, ground_id: str, *, acceptance: bool = False) -> Ground:
        pool = self.acceptance_refusal_grounds if acceptance else self.refusal_grounds
        for ground in pool:
            if ground.id == ground_id:
                return ground
        raise KeyError(ground_id)

    def option(self, option_id: str) -> ServiceOption:
        for option in self.options:
            if option.id == option_id:
                return option
        raise KeyError(option_id)

    @property
    def default_option(self) -> ServiceOption | None:
        """The option a case takes when the application chooses none (None: a choice is needed,
        or the procedure has no options)."""
        return next((o for o in self.options if o.default), None)

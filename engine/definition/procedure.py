"""The Procedure: one administrative procedure as its definition states it, immutable.

A Procedure is built by `engine.catalog` from a validated YAML file and is the single source of
truth for the workflow, the document checklist, the fee, the deadline and the catalog diff.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

STEP_KINDS = ("intake", "request_documents", "review", "decision", "issue", "task")
CHANNELS = ("in_person", "post", "portal")
# Names every condition may use besides the form fields of the steps (see docs/authoring.md).
BUILTIN_NAMES = frozenset({"channel", "category", "exempt", "documents_requested"})


@dataclass(frozen=True, slots=True)
class Ground:
    """A legal ground: for refusal, refusing to accept, suspension, or a fee exemption."""

    id: str
    title: str
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    kind: str
    title: str


@dataclass(frozen=True, slots=True)
class PresentedDocument:
    """A document the citizen presents; with a condition it is needed only when that holds."""

    id: str
    title: str
    notes: str | None = None
    condition: str | None = None


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
class Fee:
    """kind is 'free', 'base_units' or 'by_category'; amounts are multiples of the base unit."""

    kind: str
    base_units: float = 0
    categories: tuple[FeeCategory, ...] = ()
    exemptions: tuple[Ground, ...] = ()
    notes: str | None = None

    def amount(self, category: str | None = None, exempt: bool = False) -> float:
        """Base units the applicant owes for this procedure."""
        if self.kind == "free" or exempt:
            return 0
        if self.kind == "base_units":
            return self.base_units
        for cat in self.categories:
            if cat.id == category:
                return cat.base_units
        raise KeyError(f"unknown fee category {category!r}")


@dataclass(frozen=True, slots=True)
class Term:
    """The legal maximum term, as written in the definition ('15 days', '1 month', 'same day')."""

    max: str
    when_documents_requested: str | None = None
    counted_from: str = "application"
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Validity:
    """kind is 'duration', 'unlimited', 'until_event' or 'lump_sum'."""

    kind: str
    duration: str | None = None
    event: str | None = None


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
    min: float | None = None
    max: float | None = None
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
    appeal: Appeal | None = None
    bpmn: str | None = None
    bpmn_xml: str | None = field(default=None, repr=False)
    definition_json: bytes = field(default=b"{}", repr=False)
    # The BPMN compiled from `steps` when this version was first published, as stored with it
    # (set by `engine.versions`): a later compiler never changes the process of a running case.
    # Not part of the definition, so it takes no part in equality or the version hash.
    pinned_xml: str | None = field(default=None, compare=False, repr=False)

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

    def document_ids(self) -> frozenset[str]:
        """Every document this version lists, presented or requested: nothing else may be asked."""
        return frozenset(d.id for d in self.documents) | frozenset(
            d.id for d in self.requested_documents
        )

    def ground(self, ground_id: str, *, acceptance: bool = False) -> Ground:
        pool = self.acceptance_refusal_grounds if acceptance else self.refusal_grounds
        for ground in pool:
            if ground.id == ground_id:
                return ground
        raise KeyError(ground_id)

"""Building an immutable Procedure from a definition's validated data.
"""
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from engine.definition.law import general_grounds, general_grounds_json
from engine.definition.procedure import (
    PROCEDURE_OUTCOMES,
    AnonymousRule,
    Appeal,
    Authority,
    Choice,
    Citation,
    Extension,
    Fee,
    FeeCategory,
    FeeCell,
    Field,
    Forwarding,
    Ground,
    NoticeGround,
    NoticeText,
    Outcome,
    PresentedDocument,
    Procedure,
    RequestedDocument,
    Role,
    ServiceOption,
    Step,
    Term,
    Validity,
    ValidityUntil,
)

# An appeal or the book of remarks has no list chapter, fee, validity or result document.
_NOT_A_PROCEDURE = {"chapter": 0, "authorities": [], "documents": [], "fee": {"kind": "free"},
                    "validity": {"kind": "unlimited"}, "result": {"title": "ответ"}}


def _ground(g: dict[str, Any]) -> Ground:
    return Ground(g["id"], g["title"], g.get("legal_basis"))


def _fee(fee: dict[str, Any]) -> Fee:
    axes = tuple(fee.get("axes", ()))
    return Fee(kind=fee["kind"], base_units=fee.get("base_units", 0),
               categories=tuple(FeeCategory(**c) for c in fee.get("categories", [])),
               exemptions=tuple(_ground(g) for g in fee.get("exemptions", [])),
               notes=fee.get("notes"), axes=axes,
               cells=tuple(_cell(c, axes) for c in fee.get("cells", [])))


def _cell(cell: dict[str, Any], axes: tuple[str, ...]) -> FeeCell:
    """A table cell, its axes in the table's order; one choice or a list of choices each."""
    when = cell.get("when", {})
    return FeeCell(when=tuple((axis, (when[axis],) if isinstance(when[axis], str)
                               else tuple(when[axis])) for axis in axes if axis in when),
                   base_units=cell["base_units"])


def _option(o: dict[str, Any]) -> ServiceOption:
    return ServiceOption(
        id=o["id"], title=o["title"], term=o["term"]["max"], fee=_fee(o["fee"]),
        default=o.get("default", False), legal_basis=o.get("legal_basis"), notes=o.get("notes"))


def build_procedure(data: dict[str, Any], source: str, bpmn_xml: str | None = None) -> Procedure:
    """Turn validated data into a Procedure; the version hashes the definition and its BPMN."""
    canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(canonical)
    # The general grounds of Law No. 433-З become part of every procedure: a change to them is a
    # new version of every procedure, never a silent change to cases already running.
    digest.update(b"\0law\0" + general_grounds_json())
    if bpmn_xml is not None:
        digest.update(b"\0bpmn\0" + bpmn_xml.encode("utf-8"))
    kind = data.get("type", "procedure")
    if kind != "procedure":
        data = {**_NOT_A_PROCEDURE, **data}
    fee = data["fee"]
    general = general_grounds()
    suspension = data.get("suspension", {"allowed": False})
    return Procedure(
        number=data["number"],
        chapter=data["chapter"],
        name=data["name"]["ru"],
        names=tuple(sorted(data["name"].items())),
        legal_basis=tuple(data.get("legal_basis", ())),
        citation=Citation(**data["source"]) if "source" in data else None,
        authorities=tuple(Authority(**a) for a in data["authorities"]),
        channels=tuple(data["channels"]),
        documents=tuple(PresentedDocument(**d) for d in data.get("documents", [])),
        requested_documents=tuple(RequestedDocument(**d) for d in data.get("requested_documents", [])),
        fee=_fee(fee),
        term=Term(**{**data["term"], "counted_from": _counted_from(data["term"]), "extensions": tuple(
            Extension(**e) for e in data["term"].get("extensions", []))}),
        validity=Validity(**{**data["validity"], "until": ValidityUntil(**data["validity"]["until"])
                             if "until" in data["validity"] else None}),
        result=data["result"]["title"],
        appeal=Appeal(**data["appeal"]) if "appeal" in data else None,
        roles=tuple(Role(**r) for r in data["roles"]),
        steps=tuple(
            Step(
                id=s["id"], kind=s["kind"], title=s["title"], role=s["role"],
                fields=tuple(
                    Field(**{**f, "choices": tuple(Choice(**c) for c in f.get("choices", []))})
                    for f in s.get("fields", [])
                ),
                condition=s.get("condition"), term=s.get("term"), notes=s.get("notes"),
                waits_for_documents=s.get("waits_for_documents", True),
            )
            for s in data.get("steps", [])
        ),
        # Law No. 433-З's general grounds are a procedure's; an appeal has its leave_grounds.
        refusal_grounds=(general["refusal_grounds"] if kind == "procedure" else ())
        + tuple(_ground(g) for g in data.get("refusal_grounds", [])),
        acceptance_refusal_grounds=general["acceptance_refusal_grounds"] if kind == "procedure" else (),
        suspension_allowed=suspension["allowed"],
        suspension_grounds=tuple(_ground(g) for g in suspension.get("grounds", [])),
        version=digest.hexdigest(),
        source=source,
        bpmn=bpmn_file(data),
        bpmn_default_role=data["bpmn"].get("default_role") if isinstance(data.get("bpmn"), dict)
        else None,
        bpmn_xml=bpmn_xml,
        definition_json=canonical,
        type=kind,
        kinds=tuple(Choice(**c) for c in data.get("kinds", [])),
        topics=tuple(Choice(**c) for c in data.get("topics", [])),
        outcomes=tuple(Outcome(**o) for o in data["outcomes"]) if "outcomes" in data
        else PROCEDURE_OUTCOMES,
        leave_grounds=tuple(NoticeGround(**g) for g in data.get("leave_grounds", [])),
        forwarding=Forwarding(**data["forwarding"]) if "forwarding" in data else None,
        anonymous=AnonymousRule(**data["anonymous"]) if "anonymous" in data else None,
        notices=tuple(NoticeText(**n) for n in data.get("notices", [])),
        options=tuple(_option(o) for o in data.get("options", [])),
    )


def bpmn_file(data: dict[str, Any]) -> str | None:
    """The drawn BPMN file a definition names: `bpmn: path` or `bpmn: {file: path, …}`."""
    bpmn = data.get("bpmn")
    if isinstance(bpmn, dict):
        bpmn = bpmn.get("file")
    return bpmn if isinstance(bpmn, str) else None


def number_key(number: str) -> tuple[int, ...]:
    """Sort key that puts 1.2 before 1.10, as the official list does; a named definition
    (`appeal`, `remarks-book`) sorts after every numbered procedure, by its name."""
    if number[:1].isdigit():
        return (0, *(int(part) for part in number.split(".")))
    return (1, *map(ord, number))


def _counted_from(term: dict[str, Any]) -> str:
    """`counted_from` as one text: an event name, or "field:<id>" for `{field: <id>}`."""
    value = term.get("counted_from", "application")
    return f"field:{value['field']}" if isinstance(value, dict) else value

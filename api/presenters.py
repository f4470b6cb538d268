"""The JSON shapes the API answers with for procedures: the information stand's row and page.

These are the HTTP face's views of a `Procedure` (the engine's definition), so they live here,
beside the routes that send them, rather than in the engine's read queries.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.definition.procedure import Procedure
from engine.money import BaseUnitValue, FeeOnDate


def _until(until: Any) -> dict[str, Any]:
    return {"field": until.field, "after": until.after, "title": until.title}


def _ground(g: Any) -> dict[str, Any]:
    return {"id": g.id, "title": g.title, "legal_basis": g.legal_basis}


def _byn(amount: Decimal | None) -> str | None:
    """Roubles as text with two places ("22.50"): JSON numbers would lose the kopecks' zeros."""
    return None if amount is None else f"{amount:.2f}"


def base_unit(value: BaseUnitValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"byn": _byn(value.byn), "effective_from": value.effective_from,
            "basis": value.basis, "unverified": value.unverified}


def procedure_summary(proc: Procedure, money: FeeOnDate) -> dict[str, Any]:
    """One row of the catalog: the information stand's essentials; the fee also in roubles at
    the base unit in force on `money.on`."""
    fee = proc.fee
    return {
        "number": proc.number, "name": proc.name, "version": proc.version, "type": proc.type,
        "channels": list(proc.channels),
        "fee": {"kind": fee.kind, "base_units": fee.base_units,
                "categories": [{"id": c.id, "title": c.title, "base_units": c.base_units,
                                "byn": _byn(money.category(c.id))} for c in fee.categories],
                "axes": list(fee.axes),
                "cells": [{"when": {a: list(v) for a, v in c.when}, "base_units": c.base_units,
                           "byn": _byn(money.of(c.base_units))} for c in fee.cells],
                "exemptions": [_ground(g) for g in fee.exemptions], "notes": fee.notes,
                "on": money.on, "base_unit": base_unit(money.base_unit),
                "byn": _byn(money.amount)},
        "term": {"max": proc.term.max, "when_documents_requested": proc.term.when_documents_requested,
                 "counted_from": proc.term.counted_from, "notes": proc.term.notes},
        "validity": {"kind": proc.validity.kind, "duration": proc.validity.duration,
                     "event": proc.validity.event,
                     "until": _until(proc.validity.until) if proc.validity.until else None},
    }


def citation(proc: Procedure) -> dict[str, Any] | None:
    """The definition's source block: the act or page its facts come from, the edition, the check."""
    c = proc.citation
    return None if c is None else {"kind": c.kind, "act": c.act, "url": c.url, "edition": c.edition,
                                   "checked": c.checked, "notes": c.notes}


def procedure_detail(proc: Procedure, history: list[dict[str, Any]], current: str | None,
                     money: FeeOnDate) -> dict:
    """A procedure version in full: definition, checklists, fee, term, validity, version history."""
    return {
        **procedure_summary(proc, money),
        "chapter": proc.chapter, "legal_basis": list(proc.legal_basis),
        "source": citation(proc),
        "authorities": [{"kind": a.kind, "title": a.title} for a in proc.authorities],
        "documents": [{"id": d.id, "title": d.title, "notes": d.notes, "condition": d.condition,
                       "optional": d.optional, "may_be_requested": d.may_be_requested}
                      for d in proc.documents],
        "requested_documents": [
            {"id": d.id, "title": d.title, "source": d.source,
             "citizen_may_bring": d.citizen_may_bring, "fee": d.fee,
             "fee_byn": _byn(money.of(d.fee)), "condition": d.condition,
             "notes": d.notes} for d in proc.requested_documents],
        "result": proc.result,
        "roles": [{"id": r.id, "title": r.title, "acts_as": r.acts_as} for r in proc.roles],
        "steps": [
            {"id": s.id, "kind": s.kind, "title": s.title, "role": s.role,
             "condition": s.condition, "term": s.term,
             "fields": [{"id": f.id, "title": f.title, "type": f.type, "required": f.required,
                         "pattern": f.pattern, "min": f.min, "max": f.max,
                         "max_length": f.max_length,
                         "choices": [{"id": c.id, "title": c.title} for c in f.choices]}
                        for f in s.fields]}
            for s in proc.steps],
        "refusal_grounds": [_ground(g) for g in proc.refusal_grounds],
        "acceptance_refusal_grounds": [_ground(g) for g in proc.acceptance_refusal_grounds],
        "suspension_allowed": proc.suspension_allowed,
        "suspension_grounds": [_ground(g) for g in proc.suspension_grounds],
        "kinds": [{"id": c.id, "title": c.title} for c in proc.kinds],
        "topics": [{"id": c.id, "title": c.title} for c in proc.topics],
        "outcomes": [{"id": o.id, "title": o.title} for o in proc.outcomes],
        "leave_grounds": [{"id": g.id, "title": g.title, "legal_basis": g.legal_basis}
                          for g in proc.leave_grounds],
        "extensions": [{"id": e.id, "title": e.title, "term": e.term} for e in proc.term.extensions],
        "history": [{**h, "current": h["version"] == current} for h in history],
        "definition": proc.definition,
    }

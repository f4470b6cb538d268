"""What a case view shows of an appeal (or a book entry), and the notices any case generated.

`appeal_fields` gives the registration facts of the case row with their titles from the
definition, and what a clerk may do next (the extensions, leave grounds and outcomes the
definition offers); `remarks_book` the record of an authority's book of remarks and
suggestions: entries and answers. (A case's notices: `engine.read.notices`.)
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from engine.definition.procedure import Procedure
from engine.store.tables import cases, events


def appeal_fields(c: Mapping[str, Any], procedure: Procedure) -> dict[str, Any]:
    """The registration facts every case view carries (null for a procedure's)."""
    return {
        "type": c["type"], "reg_number": c["reg_number"], "kind": c["kind"],
        "kind_title": procedure.choice_title("kinds", c["kind"]), "topic": c["topic"],
        "topic_title": procedure.choice_title("topics", c["topic"]), "question": c["question"],
        "email": c["email"], "address": c["address"], "anonymous": bool(c["anonymous"]),
        "extension": c["extension"], "forwarded_from": c["forwarded_from"],
        "forwarded_on": c["forwarded_on"],
    }


def appeal_actions(procedure: Procedure) -> dict[str, Any]:
    """What the definition lets a clerk choose from: extensions, leave grounds, reply outcomes."""
    return {
        "extensions": [{"id": e.id, "title": e.title, "term": e.term, "requires": e.requires}
                       for e in procedure.term.extensions],
        "leave_grounds": [{"id": g.id, "title": g.title, "legal_basis": g.legal_basis}
                          for g in procedure.leave_grounds],
        "outcomes": [{"id": o.id, "title": o.title} for o in procedure.outcomes],
        "forwarding": procedure.forwarding is not None,
    }


MAX_BOOK_PAGE = 200


def remarks_book(db: Engine | Connection, authority: str, *, limit: int = 50,
                 offset: int = 0) -> dict[str, Any]:
    """The record of the book of remarks and suggestions of `authority`: its entries, newest
    first, each with its answer (the reply's text and when it was given) once there is one."""
    limit = max(1, min(limit, MAX_BOOK_PAGE))
    where = (cases.c.type == "remarks", cases.c.authority == authority)
    with _connection(db) as conn:
        total = conn.execute(select(func.count()).select_from(cases).where(*where)).scalar_one()
        rows = conn.execute(
            select(cases.c.id, cases.c.reg_number, cases.c.started_at, cases.c.start_date,
                   cases.c.applicant, cases.c.kind, cases.c.topic, cases.c.question,
                   cases.c.status, cases.c.outcome, cases.c.due_date, cases.c.closed_at,
                   cases.c.version)
            .where(*where).order_by(cases.c.started_at.desc(), cases.c.id.desc())
            .limit(limit).offset(offset)).all()
        answers: dict[str, tuple[Any, str]] = {}
        if rows:
            for case_id, at, data in conn.execute(
                    select(events.c.case_id, events.c.at, events.c.data)
                    .where(events.c.case_id.in_([r.id for r in rows]),
                           events.c.action == "complete")):
                reply = (orjson.loads(data).get("data") or {}).get("reply")
                if isinstance(reply, str):
                    answers[case_id] = (at, reply)
    items = []
    for r in rows:
        answered = answers.get(r.id)
        items.append({
            "id": r.id, "reg_number": r.reg_number, "started_at": r.started_at,
            "start_date": r.start_date, "applicant": r.applicant, "kind": r.kind,
            "topic": r.topic, "text": r.question, "status": r.status, "outcome": r.outcome,
            "due_date": r.due_date, "answered_at": answered[0] if answered else None,
            "answer": answered[1] if answered else None})
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@contextmanager
def _connection(db: Engine | Connection) -> Iterator[Connection]:
    if isinstance(db, Connection):
        yield db
    else:
        with db.connect() as conn:
            yield conn

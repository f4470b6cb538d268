"""Everything the clerk's case page shows, from the tables alone: the case view of
engine.read.queries plus what a page adds — when each document was recorded and by whom, every
task of the case (done ones too), the suspensions and the extension of the term, the working days
left on the Belarusian calendar, the audit trail as a timeline, and the process diagram with the
current and finished steps marked (engine.read.diagram).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from engine.process.compile import bpmn_text
from engine.read.appeal_view import appeal_actions
from engine.read.diagram import case_diagram
from engine.read.queries import _conn, case_events, case_view
from engine.read.worklist import days_left
from engine.store.tables import case_documents, tasks
from engine.store.versions import Versions
from engine.terms import WorkCalendar

MAX_TASKS = 500  # task rows shown (a case has a few dozen at most)


def case_page(db: Engine, case_id: str, versions: Versions, *, today: date,
              calendar: WorkCalendar) -> dict[str, Any] | None:
    """The case page's facts; None when the case does not exist."""
    view = case_view(db, case_id, versions, calendar)
    if view is None:
        return None
    procedure = versions.get(view["version"])
    with _conn(db) as conn:
        recorded = {r.document: r for r in conn.execute(
            select(case_documents.c.document, case_documents.c.updated_at, case_documents.c.actor)
            .where(case_documents.c.case_id == case_id)).all()}
        history = [dict(r._mapping) for r in conn.execute(
            select(tasks.c.id, tasks.c.step, tasks.c.title, tasks.c.kind, tasks.c.acts_as,
                   tasks.c.state, tasks.c.assignee, tasks.c.due_date, tasks.c.created_at,
                   tasks.c.closed_at, tasks.c.closed_by)
            .where(tasks.c.case_id == case_id)
            .order_by(tasks.c.created_at, tasks.c.id).limit(MAX_TASKS)).all()]
    for doc in view["documents"]:
        row = recorded.get(doc["id"])
        doc["updated_at"] = row.updated_at if row is not None else None
        doc["actor"] = row.actor if row is not None else None
    events = case_events(db, case_id)
    open_steps = {t["step"] for t in history if t["state"] == "open"}
    done_steps = {t["step"] for t in history if t["state"] == "done"} - open_steps
    diagram = case_diagram(bpmn_text(procedure), open_steps, done_steps)
    return {
        **view,
        "procedure_name": procedure.name,
        "task_history": history,
        "events": events,
        "suspensions": suspensions(events),
        # A procedure's term is extended when documents are requested; an appeal's by a command
        # (the extension's title, its id in `appeal_extension`).
        "extension": (procedure.term.when_documents_requested
                      if view["documents_requested"] else None) if procedure.is_procedure
        else _extension_title(procedure, view["extension"]),
        "appeal_extension": view["extension"],
        "appeal": None if procedure.is_procedure else appeal_actions(procedure),
        "term": procedure.term,
        "suspension_allowed": procedure.suspension_allowed,
        "suspension_grounds": procedure.suspension_grounds,
        "refusal_grounds": procedure.refusal_grounds,
        "days": (days_left(calendar, today, view["due_date"])
                 if view["status"] == "open" else None),
        "steps": step_states(procedure, history, diagram["nodes"]),
        "diagram": diagram,
        "roles": {r.id: r.title for r in procedure.roles},
    }


def _extension_title(procedure: Any, extension_id: str | None) -> str | None:
    if extension_id is None:
        return None
    try:
        return procedure.term.extension(extension_id).title
    except KeyError:
        return extension_id


def suspensions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each suspension of the case: from when, on which ground, and until when (None: still)."""
    spans: list[dict[str, Any]] = []
    for event in events:
        if event["action"] == "suspend":
            spans.append({"from": event["at"], "ground": event["data"].get("ground"),
                          "until": None})
        elif event["action"] == "resume" and spans and spans[-1]["until"] is None:
            spans[-1]["until"] = event["at"]
    return spans


def step_states(procedure: Any, history: list[dict[str, Any]],
                nodes: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The steps with their state in this case, in the definition's order (a drawn BPMN: its
    tasks from left to right on its diagram, then any other task opened): 'current', 'done', or
    'waiting' (not reached, or skipped)."""
    state: dict[str, str] = {}
    for task in history:
        if task["state"] == "open":
            state[task["step"]] = "current"
        elif task["state"] == "done" and state.get(task["step"]) != "current":
            state[task["step"]] = "done"
    if procedure.steps:
        return [{"id": s.id, "title": s.title, "kind": s.kind, "role": s.role,
                 "state": state.get(s.id, "waiting")} for s in procedure.steps]
    seen: dict[str, dict[str, Any]] = {}
    for node in sorted((n for n in nodes if n["kind"] == "task"), key=lambda n: n["bounds"][:2]):
        seen[node["id"]] = {"id": node["id"], "title": node["name"] or node["id"],
                            "kind": None, "role": None, "state": state.get(node["id"], "waiting")}
    for task in history:
        seen.setdefault(task["step"], {"id": task["step"], "title": task["title"],
                                       "kind": task["kind"], "role": None,
                                       "state": state.get(task["step"], "waiting")})
    return list(seen.values())

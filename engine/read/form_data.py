"""A case's form data as its audit events recorded it: what the steps' forms were given.

The start event gives channel/category/exempt (and the option); each completed step's event its
cleaned data. The case JSON's `data`, the checklist's conditions and the result's validity read it.
"""
from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.store.tables import events

# A case has a few dozen events; one with more is read no further for its form data.
MAX_EVENTS = 1000


def form_data(trail) -> tuple[dict[str, Any], set[str]]:
    """The form data of a case from its audit events (action, step, data JSON), and the steps done.

    The start event gives channel/category/exempt; each completed step's event its cleaned data.
    """
    data: dict[str, Any] = {}
    done: set[str] = set()
    for action, step, raw in trail:
        if action == "start":
            payload = orjson.loads(raw)
            for key in ("channel", "category", "exempt"):
                if key in payload:
                    data[key] = payload[key]
        elif action == "complete":
            payload = orjson.loads(raw)
            if isinstance(payload.get("data"), dict):
                data.update(payload["data"])
            if step:
                done.add(step)
    return data, done


def case_form_data(conn: Connection, case_id: str) -> dict[str, Any]:
    """The form data of one case, read from its start and completion events."""
    trail = conn.execute(select(events.c.action, events.c.step, events.c.data)
                         .where(events.c.case_id == case_id, events.c.action.in_(("start", "complete")))
                         .order_by(events.c.seq).limit(MAX_EVENTS)).all()
    return form_data(trail)[0]

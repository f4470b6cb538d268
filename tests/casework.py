"""Shared test plumbing for running cases: a real SQLite file, the real catalog, a movable clock."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.cases import Cases
from engine.catalog import load_catalog
from engine.clock import FixedClock
from engine.procedure import Field, Procedure
from engine.store import connect, tasks
from engine.versions import Versions

CATALOG = Path(__file__).resolve().parent.parent / "procedures"


class Engine:
    """A case engine on its own database file, with the clock standing at `at`."""

    def __init__(self, path: Path, at: datetime = datetime(2025, 6, 18, 7, 0, tzinfo=timezone.utc),
                 procedures: dict[str, Procedure] | None = None) -> None:
        self.db = connect(f"sqlite:///{path}")
        self.clock = FixedClock(at)
        self.versions = Versions(self.db, self.clock)
        self.catalog = procedures if procedures is not None else load_catalog(CATALOG)
        self.versions.publish(self.catalog.values())
        self.cases = Cases(self.db, self.versions, self.clock)

    def start(self, number: str, **kwargs: Any) -> str:
        proc = self.versions.current(number)
        defaults = {"applicant": "applicant-1", "channel": proc.channels[0],
                    "authority": "org-1", "actor": "clerk-1"}
        if proc.fee.kind == "by_category":
            defaults["category"] = proc.fee.categories[0].id
        return self.cases.start(number, **{**defaults, **kwargs})

    def open_tasks(self, case_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(select(tasks).where(tasks.c.case_id == case_id, tasks.c.state == "open")
                                .order_by(tasks.c.created_at, tasks.c.step)).all()
        return [dict(r._mapping) for r in rows]

    def run_to_end(self, case_id: str, outcome: str = "approve", limit: int = 30) -> list[str]:
        """Complete open tasks in order until none is left; returns the steps done."""
        done: list[str] = []
        proc = self.versions.get(self.case(case_id)["version"])
        for _ in range(limit):
            open_tasks = self.open_tasks(case_id)
            if not open_tasks:
                return done
            task = open_tasks[0]
            data = sample_form(_fields(proc, task["step"]))
            if task["kind"] == "decision":
                data["outcome"] = outcome
                if outcome == "refuse":
                    data["ground"] = proc.refusal_grounds[0].id
            self.cases.complete_task(case_id, task["id"], data, actor="clerk-1")
            done.append(task["step"])
        raise AssertionError(f"case {case_id} did not end within {limit} steps: {done}")

    def case(self, case_id: str) -> dict[str, Any]:
        from engine.store import cases

        with self.db.connect() as conn:
            return dict(conn.execute(select(cases).where(cases.c.id == case_id)).one()._mapping)


def _fields(proc: Procedure, step_id: str) -> tuple[Field, ...]:
    for step in proc.steps:
        if step.id == step_id:
            return step.fields
    return ()


def sample_form(fields: tuple[Field, ...]) -> dict[str, Any]:
    """A valid value for every field (required or not), as a performer would fill the form."""
    data: dict[str, Any] = {}
    for f in fields:
        if f.type == "choice":
            data[f.id] = f.choices[0].id
        elif f.type == "boolean":
            data[f.id] = False
        elif f.type in ("integer", "number"):
            data[f.id] = int(f.min) if f.min is not None else 1
        elif f.type == "date":
            data[f.id] = date(2025, 6, 1).isoformat()
        elif f.pattern:
            data[f.id] = _matching(f.pattern)
        else:
            data[f.id] = "текст"[: f.max_length or 5]
    return data


def _matching(pattern: str) -> str:
    """A string matching a simple field pattern (digits, letters); enough for catalog patterns."""
    import re

    for candidate in ("1234567", "AB1234567", "1234567A001PB1", "12345", "2025-01-01", "А", "abc",
                      "+375291234567", "375291234567", "1", "12", "123", "1234", "123456",
                      "12345678", "123456789", "1234567890", "AB123456", "МР1234567"):
        if re.fullmatch(pattern, candidate):
            return candidate
    raise AssertionError(f"add a sample for pattern {pattern!r} to tests/casework.py")

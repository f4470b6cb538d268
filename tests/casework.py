"""Shared test plumbing for running cases: a real SQLite file, the real catalog, a movable clock."""
from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.audit.keys import Keyring
from engine.audit.ledger import Ledger
from engine.clock import FixedClock
from engine.definition.procedure import Field, Procedure
from engine.definition.validation import load_catalog
from engine.runtime.commands import Cases
from engine.runtime.forms import example_form as sample_form
from engine.store.connect import connect
from engine.store.tables import cases as cases_table
from engine.store.tables import tasks
from engine.store.versions import Versions
from tests.db_support import url as db_url
from tests.templates import copy_template

CATALOG = Path(__file__).resolve().parent.parent / "procedures"
AUDIT_KEY = "test-audit-key-" + "k" * 32


def ledger_for(db_path: Path) -> Ledger:
    """The audit ledger of a test database: the test key, checkpoints in a folder beside it."""
    return Ledger(Keyring.of(AUDIT_KEY), db_path.with_name(db_path.stem + "-checkpoints"))


@functools.cache
def catalog() -> dict[str, Procedure]:
    """The shipped catalog, loaded once (Procedures are immutable; copy the dict to change it)."""
    return load_catalog(CATALOG)


class Engine:
    """A case engine on its own database file, with the clock standing at `at`."""

    def __init__(self, path: Path, at: datetime = datetime(2025, 6, 18, 7, 0, tzinfo=UTC),
                 procedures: dict[str, Procedure] | None = None) -> None:
        self.catalog = procedures if procedures is not None else dict(catalog())
        if procedures is None and not path.exists():  # an existing file is reopened as it is
            copy_template(("engine", at.isoformat()), path, lambda p: _published(p, at, self.catalog))
        self.db = connect(db_url(path))
        self.clock = FixedClock(at)
        self.versions = Versions(self.db, self.clock)
        self.versions.publish(self.catalog.values())  # on a template copy: nothing new to store
        self.ledger = ledger_for(path)
        self.cases = Cases(self.db, self.versions, self.clock, ledger=self.ledger)

    def start(self, number: str, **kwargs: Any) -> str:
        proc = self.versions.current(number)
        defaults = {"applicant": "applicant-1", "channel": proc.channels[0],
                    "authority": "org-1", "actor": "clerk-1"}
        if proc.fee.kind == "by_category":
            defaults["category"] = proc.fee.categories[0].id
        return self.cases.start(number, **{**defaults, **kwargs})

    def present_documents(self, case_id: str, actor: str = "clerk-1") -> int:
        """Record every document of the case's procedure the citizen presents as presented."""
        return present_documents(self.cases, case_id, actor)

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
            if task["kind"] == "intake":
                self.present_documents(case_id)
            data = sample_form(_fields(proc, task["step"]))
            if task["kind"] == "decision":
                data["outcome"] = outcome
                if outcome == "refuse":
                    data["ground"] = proc.refusal_grounds[0].id
            self.cases.complete_task(case_id, task["id"], data, actor="clerk-1")
            done.append(task["step"])
        raise AssertionError(f"case {case_id} did not end within {limit} steps: {done}")

    def verify(self, case_id: str | None = None) -> tuple[int, list]:
        """`okno audit verify` on this database: (cases checked, breaks)."""
        report = self.ledger.verify(self.db, case_id)
        return report.checked, report.breaks

    def case(self, case_id: str) -> dict[str, Any]:
        from engine.store.tables import cases

        with self.db.connect() as conn:
            return dict(conn.execute(select(cases).where(cases.c.id == case_id)).one()._mapping)


def present_documents(cases: Cases, case_id: str, actor: str = "clerk-1") -> int:
    """What a clerk does before completing intake: record every document the citizen presents
    (each listed one, whatever its condition) as presented; one audit event each. Returns how
    many were recorded."""
    with cases.db.connect() as conn:
        version = conn.execute(select(cases_table.c.version).where(
            cases_table.c.id == case_id)).scalar_one()
    documents = cases.versions.get(version).documents
    for doc in documents:
        cases.record_document(case_id, doc.id, "presented", actor=actor)
    return len(documents)


def _published(path: Path, at: datetime, catalog: dict[str, Procedure]):
    """A new database at `path` with `catalog` published at `at`: what Engine starts from."""
    db = connect(db_url(path))
    Versions(db, FixedClock(at)).publish(catalog.values())
    return db


def _fields(proc: Procedure, step_id: str) -> tuple[Field, ...]:
    for step in proc.steps:
        if step.id == step_id:
            return step.fields
    return ()


def engine_on(url: str, ledger_path: Path, clock: FixedClock) -> Cases:
    """An engine of its own on `url`, SQLite or PostgreSQL (own pool, own live-workflow cache), on
    `clock`, with the catalog published; audit checkpoints beside `ledger_path`."""
    db = connect(url)
    versions = Versions(db, clock)
    versions.publish(catalog().values())
    return Cases(db, versions, clock, ledger=ledger_for(ledger_path))


def due_cases(cases: Cases, count: int) -> list[str]:
    """`count` cases of 2.2 past their intake: each waits on a 3-day timer, due in 5 days."""
    proc = cases.versions.current("2.2")
    ids = []
    for n in range(count):
        case_id = cases.start("2.2", applicant=f"applicant-{n}", channel=proc.channels[0],
                              authority="org-1", actor="clerk-1")
        with cases.db.connect() as conn:
            intake = conn.execute(select(tasks.c.id).where(tasks.c.case_id == case_id,
                                                           tasks.c.state == "open")).scalar_one()
        present_documents(cases, case_id)
        cases.complete_task(case_id, intake, {}, actor="clerk-1")
        ids.append(case_id)
    return ids

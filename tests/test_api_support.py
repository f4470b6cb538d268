"""Shared set-up for the HTTP API tests: a real SQLite file, the real catalog, real users.

Not a test module itself (it holds no tests); the test_api* modules import from it.
"""
from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import find
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.app import Services, build_services, create_app
from api.auth import LoginLimiter, issue_token
from engine.accounts import User, add_user, get_account
from engine.clock import FixedClock
from engine.definition.procedure import Field, Procedure
from engine.runtime.forms import example_form
from tests.casework import CATALOG, catalog, ledger_for
from tests.db_support import url as db_url
from tests.templates import copy_template

with warnings.catch_warnings():  # starlette prefers httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
CATALOG_PATH = CATALOG
SECRET = "test-secret-" + "x" * 40
ORG_A, ORG_B = "minsk-sovetsky", "minsk-frunzensky"

# name, role, org
USERS = (
    ("clerk", "clerk", ORG_A),
    ("supervisor", "supervisor", ORG_A),
    ("clerk_b", "clerk", ORG_B),
    ("ivan", "applicant", "citizens"),
    ("petr", "applicant", "citizens"),
    ("auditor", "auditor", "kgk"),
    ("analyst", "analyst", "minjust"),
)
PASSWORD = "correct horse battery staple"


class Ticker:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Api:
    """A TestClient on a fresh database, with a token per user."""

    def __init__(self, tmp: Path, clock: FixedClock | None = None) -> None:
        self.clock = clock or FixedClock(datetime(2025, 6, 18, 9, 0, tzinfo=UTC))
        path = tmp / "okno.db"
        if not path.exists():  # an existing file is reopened as it is
            copy_template(("api", self.clock.now().isoformat()), path,
                          lambda p: _with_users(_services(p, self.clock)).db)
        self.services = _services(path, self.clock)
        self.app = create_app(services_=self.services)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.users: dict[str, User] = {}
        for name, _role, _org in USERS:
            account = get_account(self.services.db, name)
            assert account is not None, f"{name} is not in {path}"
            self.users[name] = account.user
        self.tokens = {name: issue_token(u, SECRET)[0] for name, u in self.users.items()}

    @property
    def db(self):
        return self.services.db

    def count(self, table) -> int:
        """Rows in `table`: what a refused request must leave unchanged."""
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

    def throttle_on(self, clock: Ticker) -> Ticker:
        """The app's sign-in limiter runs on `clock`, which the test moves by hand."""
        self.app.state.login_limiter = LoginLimiter(self.db, clock=clock)
        return clock

    def sign_in_form(self, name: str, password: str):
        """POST /api/auth/token with a user name and password."""
        return self.client.post("/api/auth/token", data={"username": name, "password": password})

    def h(self, user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, path: str, user: str | None = "clerk", **kw: Any):
        return self.client.get(path, headers={**self.h(user), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, user: str | None = "clerk", json: Any = None, **kw: Any):
        return self.client.post(path, json=json, headers={**self.h(user), **kw.pop("headers", {})},
                                **kw)

    # ------------------------------------------------------------------ driving a case

    def start(self, number: str, user: str = "clerk", applicant: str = "ivan",
              account: str | None = "ivan") -> dict:
        """A case registered by staff `user`, linked to the applicant account `account`."""
        proc = catalog()[number]
        body: dict[str, Any] = {"number": number, "applicant": applicant,
                                "channel": proc.channels[0]}
        if account is not None:
            body["applicant_user"] = account
        if proc.fee.kind == "by_category":
            body["category"] = proc.fee.categories[0].id
        r = self.post("/api/cases", user, body)
        assert r.status_code == 201, r.text
        return r.json()

    def open_tasks(self, case_id: str) -> list[dict]:
        r = self.get(f"/api/cases/{case_id}", "auditor")
        assert r.status_code == 200, r.text
        return r.json()["tasks"]

    def complete(self, case_id: str, task: dict, number: str, outcome: str = "approve",
                 user: str | None = None, required_only: bool = False):
        user = user or ("supervisor" if task["acts_as"] == "supervisor" else "clerk")
        if task["kind"] == "intake":
            self.present_documents(case_id, number, user)
        data = task_data(catalog()[number], task, outcome, required_only)
        return self.post(f"/api/cases/{case_id}/tasks/{task['id']}/complete", user,
                         {"data": data})

    def present_documents(self, case_id: str, number: str, user: str = "clerk") -> None:
        """Record every document the citizen presents as presented (intake waits for them)."""
        for doc in catalog()[number].documents:
            r = self.post(f"/api/cases/{case_id}/documents/{doc.id}", user,
                          {"status": "presented"})
            assert r.status_code == 200, r.text

    def advance(self, case_id: str, number: str, until_kind: str | None = None,
                max_steps: int = 40) -> dict:
        """Complete open tasks on the approve path until a task of `until_kind` waits or the
        case ends; returns the last command result."""
        result: dict = {}
        for _ in range(max_steps):
            tasks = self.open_tasks(case_id)
            if not tasks:
                return result
            if until_kind is not None and any(t["kind"] == until_kind for t in tasks):
                return result
            r = self.complete(case_id, tasks[0], number)
            assert r.status_code == 200, (tasks[0], r.text)
            result = r.json()
            if result["status"] != "open":
                return result
        raise AssertionError(f"case {case_id} did not reach {until_kind or 'its end'}")


def _services(path: Path, clock: FixedClock) -> Services:
    """Services on the database at `path`, with the catalog published (on a template copy:
    nothing new to store)."""
    services = build_services(db_url(path), clock, catalog_path=CATALOG_PATH, secret=SECRET,
                              publish=False, ledger=ledger_for(path))
    services.versions.publish(catalog().values())
    return services


def _with_users(services: Services) -> Services:
    for name, role, org in USERS:
        add_user(services.db, name, PASSWORD, role, org)
    return services


def task_data(proc: Procedure, task: dict, outcome: str = "approve",
              required_only: bool = False) -> dict[str, Any]:
    """Valid form data for a task: every field of its step (or only the required ones) filled
    from the field's type."""
    if task["kind"] == "decision":
        data: dict[str, Any] = {"outcome": outcome}
        if outcome == "refuse":
            data["ground"] = proc.refusal_grounds[0].id
    else:
        data = {}
    step = next((s for s in proc.steps if s.id == task["step"]), None)
    if step is not None:
        for fld in step.fields:
            if fld.required or not required_only:
                data[fld.id] = field_value(fld)
    return data


def field_value(fld: Field) -> Any:
    """A valid value for a form field: the engine's example, or one drawn from its pattern."""
    value = example_form((fld,)).get(fld.id)
    if value is None:  # a pattern none of the engine's samples matches
        limit = fld.max_length or 10_000
        value = find(st.from_regex(fld.pattern, fullmatch=True), lambda s: len(s) <= limit)
    return value


def pick(predicate) -> Procedure | None:
    return next((p for p in catalog().values() if predicate(p)), None)


def role_of(proc: Procedure, kind: str) -> str | None:
    """acts_as of the (first) step of `kind`, for step definitions."""
    for step in proc.steps:
        if step.kind == kind:
            return proc.role(step.role).acts_as
    return None

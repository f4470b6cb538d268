"""The authorisation matrix: every role against every route, on its own and a foreign org's case.

Users (see test_api_support.USERS): clerk and supervisor of org A, clerk_b of org B, the
applicants ivan (whose case it is) and petr, an auditor and an analyst. Every row acts on a
fresh case of org A whose applicant is ivan, brought to the stage the route needs.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.test_api_support import Api, pick, role_of, task_data

WHO = ("clerk", "supervisor", "clerk_b", "ivan", "petr", "auditor", "analyst")


def _matrix_procedure():
    def fits(p):
        return (role_of(p, "intake") == "clerk" and role_of(p, "decision") == "supervisor"
                and role_of(p, "issue") == "clerk" and p.documents)
    return pick(lambda p: fits(p) and p.suspension_allowed) or pick(fits)


PROC = _matrix_procedure()
S = 200 if PROC.suspension_allowed else 409  # suspending where the definition does not allow it


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    return Api(tmp_path_factory.mktemp("access"))


def _case(api: Api, stage: str | None = None) -> dict:
    """A fresh case of org A (applicant ivan), advanced to `stage`."""
    case = api.start(PROC.number)
    if stage == "decision":
        api.advance(case["id"], PROC.number, until_kind="decision")
    elif stage == "issue":
        api.advance(case["id"], PROC.number, until_kind="issue")
    elif stage == "suspended" and PROC.suspension_allowed:
        r = api.post(f"/api/cases/{case['id']}/suspend", "clerk",
                     {"ground": PROC.suspension_grounds[0].id if PROC.suspension_grounds else "x"})
        assert r.status_code == 200, r.text
    elif stage == "withdrawn":
        assert api.post(f"/api/cases/{case['id']}/withdraw", "clerk").status_code == 200
    return case


def _task(api: Api, case: dict, kind: str | None = None) -> dict:
    tasks = api.open_tasks(case["id"])
    return next(t for t in tasks if kind is None or t["kind"] == kind)


def _complete(kind: str) -> Callable:
    def call(api: Api, user: str):
        case = _case(api, kind if kind != "intake" else None)
        if kind == "intake":  # the documents recorded by the case's clerk: only access differs
            api.present_documents(case["id"], PROC.number)
        task = _task(api, case, kind)
        return api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete", user,
                        {"data": task_data(PROC, task)})
    return call


def _task_command(action: str) -> Callable:
    def call(api: Api, user: str):
        case = _case(api)
        task = _task(api, case)
        return api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/{action}", user)
    return call


def _case_command(action: str, body: dict | None = None, stage: str | None = None) -> Callable:
    def call(api: Api, user: str):
        case = _case(api, stage)
        return api.post(f"/api/cases/{case['id']}/{action}", user, body)
    return call


def _read(path: str) -> Callable:
    def call(api: Api, user: str):
        return api.get(path.format(case=_case(api)["id"] if "{case}" in path else "",
                                   number=PROC.number), user)
    return call


def _create(api: Api, user: str):
    return api.post("/api/cases", user, {"number": PROC.number, "applicant": "petrov",
                                         "channel": PROC.channels[0]})


SUSPEND_GROUND = PROC.suspension_grounds[0].id if PROC.suspension_grounds else "any"

# route: (call, statuses for clerk, supervisor, clerk_b, ivan (owner), petr, auditor, analyst)
MATRIX: dict[str, tuple[Callable, tuple[int, ...]]] = {
    "GET /api/me": (_read("/api/me"), (200,) * 7),
    "GET /api/procedures": (_read("/api/procedures"), (200,) * 7),
    "GET /api/procedures/{n}": (_read("/api/procedures/{number}"), (200,) * 7),
    "GET /api/procedures/{n}/bpmn": (_read("/api/procedures/{number}/bpmn"), (200,) * 7),
    "GET /api/catalog/diff": (_read("/api/catalog/diff?from=current"),
                              (403, 200, 403, 403, 403, 200, 200)),
    "POST /api/cases": (_create, (201, 201, 201, 403, 403, 403, 403)),
    "GET /api/cases": (_read("/api/cases"), (200, 200, 200, 200, 200, 200, 403)),
    "GET /api/cases/{id}": (_read("/api/cases/{case}"), (200, 200, 404, 200, 404, 200, 403)),
    "GET /api/cases/{id}/events": (_read("/api/cases/{case}/events"),
                                   (200, 200, 404, 403, 403, 200, 403)),
    "GET /api/tasks": (_read("/api/tasks"), (200, 200, 200, 403, 403, 403, 403)),
    "POST claim": (_task_command("claim"), (200, 200, 404, 403, 403, 403, 403)),
    "POST unclaim": (_task_command("unclaim"), (200, 200, 404, 403, 403, 403, 403)),
    "POST complete (clerk step)": (_complete("intake"), (200, 200, 404, 403, 403, 403, 403)),
    "POST complete (supervisor step)": (_complete("decision"),
                                        (403, 200, 404, 403, 403, 403, 403)),
    "POST documents": (_case_command(f"documents/{PROC.documents[0].id}", {"status": "presented"}),
                       (200, 200, 404, 403, 403, 403, 403)),
    "POST withdraw": (_case_command("withdraw", {"reason": "changed my mind"}),
                      (200, 200, 404, 200, 404, 403, 403)),
    "POST refuse-acceptance": (_case_command("refuse-acceptance", {"ground": "documents_missing"}),
                               (200, 200, 404, 403, 403, 403, 403)),
    "POST suspend": (_case_command("suspend", {"ground": SUSPEND_GROUND}),
                     (S, S, 404, 403, 403, 403, 403)),
    "POST resume": (_case_command("resume", stage="suspended"), (S, S, 404, 403, 403, 403, 403)),
    "POST decide": (_case_command("decide", {"outcome": "approve"}, stage="decision"),
                    (403, 200, 404, 403, 403, 403, 403)),
    "POST issue": (_case_command("issue", stage="issue"), (200, 200, 404, 403, 403, 403, 403)),
    "POST close": (_case_command("close", stage="withdrawn"), (200, 200, 404, 403, 403, 403, 403)),
    "GET /api/cases/{id}/notices": (_read("/api/cases/{case}/notices"),
                                    (200, 200, 404, 200, 404, 200, 403)),
    "GET /api/outbox": (_read("/api/outbox"), (403, 200, 403, 403, 403, 200, 403)),
}

ROWS = [pytest.param(route, user, statuses[i], id=f"{route}-{user}")
        for route, (_call, statuses) in MATRIX.items() for i, user in enumerate(WHO)]


@pytest.mark.parametrize(("route", "user", "expected"), ROWS)
def test_access_matrix(api: Api, route: str, user: str, expected: int) -> None:
    call, _ = MATRIX[route]
    response = call(api, user)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == expected


# Routes for people without an account: signing in, signing up, the public answers; probes.
PUBLIC = {("post", "/api/auth/token"), ("post", "/api/signup"), ("get", "/api/public-answers"),
          ("get", "/health"), ("get", "/ready")}  # probes: api/routes/health.py


def test_every_route_needs_a_token(api: Api) -> None:
    paths = api.app.openapi()["paths"]
    assert {path for _, path in PUBLIC} <= set(paths)
    checked = 0
    for path, operations in paths.items():
        for method in operations:
            if (method, path) in PUBLIC:
                continue
            url = path.format(case_id="c1", task_id="t1", doc_id="d1", number=PROC.number,
                              notice_id="n1")
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                r = api.client.request(method.upper(), url, headers=headers, json={})
                assert r.status_code == 401, (method, url, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert r.headers["content-type"] == "application/problem+json"
            checked += 1
    assert checked >= 20


def test_foreign_org_cannot_tell_a_case_exists(api: Api) -> None:
    case = _case(api)
    foreign = api.get(f"/api/cases/{case['id']}", "clerk_b")
    missing = api.get("/api/cases/00000000-0000-0000-0000-000000000000", "clerk_b")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["title"] == missing.json()["title"]


def test_lists_are_scoped_to_the_caller(api: Api) -> None:
    api.clock.advance(seconds=1)  # the newest case heads every list
    case = _case(api)

    def ids(user: str, query: str = "") -> set[str]:
        return {c["id"] for c in api.get(f"/api/cases{query}", user).json()["items"]}

    assert case["id"] in ids("clerk") and case["id"] in ids("auditor") and case["id"] in ids("ivan")
    assert case["id"] not in ids("clerk_b") and case["id"] not in ids("petr")
    assert ids("clerk_b", "?authority=minsk-sovetsky") == set()
    theirs = api.start(PROC.number, user="clerk_b", account="petr")  # a case of org B
    assert theirs["authority"] == "minsk-frunzensky"
    tasks = api.get("/api/tasks?limit=200", "clerk_b").json()["items"]
    assert theirs["id"] in {t["case_id"] for t in tasks}
    assert case["id"] not in {t["case_id"] for t in tasks}
    assert all(t["authority"] == "minsk-frunzensky" for t in tasks)


def test_claimed_task_belongs_to_its_holder(api: Api) -> None:
    case = _case(api)
    api.present_documents(case["id"], PROC.number)
    task = _task(api, case)
    url = f"/api/cases/{case['id']}/tasks/{task['id']}"
    assert api.post(url + "/claim", "supervisor").status_code == 200
    mine = api.get("/api/tasks?mine=true", "supervisor").json()["items"]
    assert task["id"] in {t["id"] for t in mine}
    # the clerk's queue shows unclaimed tasks and their own, not the supervisor's
    assert task["id"] not in {t["id"] for t in api.get("/api/tasks?limit=200", "clerk").json()["items"]}
    r = api.post(url + "/complete", "clerk", {"data": task_data(PROC, task)})
    assert r.status_code == 403, r.text
    assert api.post(url + "/unclaim", "clerk", {"force": True}).status_code == 403
    assert api.post(url + "/unclaim", "supervisor", {"force": True}).status_code == 200
    assert api.post(url + "/complete", "clerk", {"data": task_data(PROC, task)}).status_code == 200

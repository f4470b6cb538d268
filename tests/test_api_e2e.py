"""End to end through HTTP: every procedure of the catalog, started and carried to its end."""
from __future__ import annotations

import pytest

from tests.test_api_support import Api, catalog


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    return Api(tmp_path_factory.mktemp("e2e"))


@pytest.mark.parametrize("fill", ["all fields", "required fields"])
@pytest.mark.parametrize("number", [n for n, p in catalog().items() if p.is_procedure])
def test_procedure_runs_to_approval_over_http(api: Api, number: str, fill: str) -> None:
    proc = catalog()[number]
    case = api.start(number)
    assert case["status"] == "open" and case["number"] == number
    assert case["version"] == proc.version and case["tasks"], case
    listed = {d.id for d in proc.documents}
    assert {d["id"] for d in case["documents"] if d["kind"] == "presented"} <= listed

    seen_kinds = []
    for _ in range(40):
        tasks = api.open_tasks(case["id"])
        if not tasks:
            break
        task = tasks[0]
        seen_kinds.append(task["kind"])
        r = api.complete(case["id"], task, number, required_only=fill == "required fields")
        assert r.status_code == 200, (task, r.text)
        assert r.headers["content-type"] == "application/json"
    else:
        pytest.fail(f"{number}: the case did not end")

    view = api.get(f"/api/cases/{case['id']}", "auditor").json()
    assert (view["status"], view["outcome"]) == ("completed", "approved"), view
    assert view["tasks"] == []
    assert "decision" in seen_kinds
    report = api.services.cases.ledger.verify(api.db, case["id"])
    checked, breaks = report.checked, report.breaks
    assert checked == 1 and breaks == []
    events = api.get(f"/api/cases/{case['id']}/events", "auditor").json()
    assert events["chain_ok"] is True
    assert [e["seq"] for e in events["events"]] == list(range(1, view["row_version"] + 1))
    assert events["events"][0]["action"] == "start"
    # the case can be archived once it has ended
    assert api.post(f"/api/cases/{case['id']}/close", "clerk").json()["status"] == "closed"

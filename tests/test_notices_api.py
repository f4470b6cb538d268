"""The notices' JSON API: a case's notices for whoever may see the case, the outbox for its
organisation's supervisor (all of them for an auditor), and retrying a failed notice."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.notices.outbox import Round
from tests.notices_support import ADDRESS, fail_all, noticed, outbox_row, reply
from tests.test_api_support import ORG_A, Api


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)

def test_a_cases_notices_are_for_whoever_may_see_the_case(api: Api) -> None:
    case_id = noticed(api, reply())
    path = f"/api/cases/{case_id}/notices"
    for user in ("clerk", "supervisor", "ivan", "auditor"):
        assert api.get(path, user).status_code == 200, user
    for user in ("clerk_b", "petr"):  # another authority's clerk, another applicant
        answer = api.get(path, user)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert api.get(path, "analyst").status_code == 403
    assert api.get(path, None).status_code == 401
    assert api.get("/api/cases/no-such-case/notices", "auditor").status_code == 404


def test_the_notices_say_where_they_went_and_where_to_print_them(api: Api) -> None:
    mailed, printed = reply(), reply(recipient=None)
    case_id = noticed(api, mailed, printed)
    body = api.get(f"/api/cases/{case_id}/notices", "ivan").json()
    assert body["case_id"] == case_id
    by_id = {n["id"]: n for n in body["notices"]}
    assert set(by_id) == {mailed.id, printed.id}
    sent = by_id[mailed.id]
    assert (sent["kind"], sent["title"], sent["recipient"]) == (
        "reply", "Ответ на обращение № minsk-sovetsky-2025-000001", ADDRESS)
    assert sent["href"] == f"/cases/{case_id}/notices/{mailed.id}"
    assert sent["delivery"]["status"] == "pending" and sent["delivery"]["attempts"] == 0
    assert datetime.fromisoformat(sent["created_at"]) == api.clock.now()
    assert by_id[printed.id]["delivery"] is None and by_id[printed.id]["recipient"] is None


def test_the_outbox_shows_the_supervisors_own_organisation_and_what_failed(api: Api) -> None:
    ours = reply()
    noticed(api, ours)
    noticed(api, reply(), user="clerk_b", account=None)  # another organisation's notice
    assert fail_all(api) == Round(failed=2)
    mine = api.get("/api/outbox", "supervisor").json()
    assert mine["smtp_configured"] is False
    assert mine["counts"] == {"pending": 0, "sending": 0, "sent": 0, "failed": 1, "retrying": 0}
    [row] = mine["items"]
    assert (row["notice_id"], row["status"], row["authority"], row["address"]) == (
        ours.id, "failed", ORG_A, ADDRESS)
    assert "ConnectionRefusedError" in row["last_error"]
    everyone = api.get("/api/outbox", "auditor").json()
    assert everyone["counts"]["failed"] == 2 and len(everyone["items"]) == 2
    for user in ("clerk", "ivan", "analyst"):
        assert api.get("/api/outbox", user).status_code == 403, user


def test_a_supervisor_retries_a_failed_notice_of_their_organisation(api: Api) -> None:
    ours, theirs = reply(), reply()
    noticed(api, ours)
    noticed(api, theirs, user="clerk_b", account=None)
    fail_all(api)
    assert api.post(f"/api/outbox/{ours.id}/retry", "clerk").status_code == 403
    refused = api.post(f"/api/outbox/{theirs.id}/retry", "supervisor")
    assert refused.status_code == 404 and refused.json()["field"] == "notice_id"
    assert outbox_row(api.db, theirs.id)["status"] == "failed"
    assert api.post(f"/api/outbox/{ours.id}/retry", "supervisor").status_code == 204
    row = outbox_row(api.db, ours.id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    again = api.post(f"/api/outbox/{ours.id}/retry", "supervisor")
    assert again.status_code == 409 and "not failed" in again.json()["detail"]

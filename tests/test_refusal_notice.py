"""A refusal produces its notice (engine/notices/refusal.py): the ground's text, the superior
body and the last day to appeal — in the notice, the case JSON and the applicant's cabinet."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.appeals.notice_values import ru_date
from engine.store.tables import notices
from engine.terms import due_date
from tests.pages_support import sign_in_client
from tests.test_api_support import Api, pick


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


PROC = pick(lambda p: p.appeal is not None and p.refusal_grounds
            and any(s.kind == "decision" for s in p.steps))


def decided(api: Api, outcome: str) -> str:
    case = api.start(PROC.number)
    api.advance(case["id"], PROC.number, until_kind="decision")
    task = next(t for t in api.open_tasks(case["id"]) if t["kind"] == "decision")
    r = api.complete(case["id"], task, PROC.number, outcome)
    assert r.status_code == 200, r.text
    return case["id"]


def test_a_refused_case_gets_its_notice_the_json_field_and_the_cabinet_shows_the_text(api):
    case_id = decided(api, "refuse")
    ground = PROC.refusal_grounds[0]
    view = api.get(f"/api/cases/{case_id}", "auditor").json()
    until = due_date(api.services.clock.today(), PROC.appeal.term, api.services.cases.calendar)
    assert view["refusal"] == {
        "ground": ground.id, "ground_title": ground.title, "legal_basis": ground.legal_basis,
        "superior_body": PROC.appeal.superior_body, "appeal_term": PROC.appeal.term,
        "appeal_until": until.isoformat()}
    with api.db.connect() as conn:
        rows = conn.execute(select(notices).where(notices.c.case_id == case_id,
                                                  notices.c.kind == "refusal")).all()
    assert len(rows) == 1
    body = rows[0].body
    assert ground.title in body and PROC.appeal.superior_body in body and ru_date(until) in body
    assert "{" not in body and ground.id not in body
    sign_in_client(api, "ivan")
    page = api.client.get(f"/cabinet/cases/{case_id}")
    assert page.status_code == 200
    assert "Основание отказа" in page.text and ground.title in page.text
    assert "Порядок обжалования" in page.text and PROC.appeal.superior_body in page.text
    assert ru_date(until) in page.text and f">{ground.id}<" not in page.text
    mine = api.get(f"/api/me/cases/{case_id}", "ivan")
    assert mine.status_code == 200 and mine.json()["refusal"]["ground_title"] == ground.title


def test_an_approved_case_has_no_refusal(api):
    case_id = decided(api, "approve")
    assert api.get(f"/api/cases/{case_id}", "auditor").json()["refusal"] is None
    with api.db.connect() as conn:
        kinds = conn.execute(select(notices.c.kind).where(notices.c.case_id == case_id)).scalars().all()
    assert "refusal" not in kinds
    sign_in_client(api, "ivan")
    page = api.client.get(f"/cabinet/cases/{case_id}")
    assert page.status_code == 200 and "Основание отказа" not in page.text

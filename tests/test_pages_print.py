"""Printable documents of a case (api/pages/printables.py): who may see them, when they exist,
what they say; the refusal in chromium."""
from __future__ import annotations

import html
import re

import pytest

from tests.browser import check_accessible, screenshot, sign_in
from tests.test_api_support import Api, catalog

NUMBER = "1.1.7"  # a district administration's procedure, free, with an appeal route


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def text_of(page_html: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


def get(api: Api, path: str, user: str | None):
    cookies = {} if user is None else {"Cookie": f"okno_session={api.tokens[user]}"}
    return api.client.get(path, headers=cookies, follow_redirects=False)


def decided(api: Api, outcome: str, number: str = NUMBER) -> str:
    case = api.start(number)
    api.advance(case["id"], number, until_kind="decision")
    task = next(t for t in api.open_tasks(case["id"]) if t["kind"] == "decision")
    assert api.complete(case["id"], task, number, outcome=outcome).status_code == 200
    return case["id"]


def test_the_receipt_is_for_the_authoritys_staff_and_the_applicant(api: Api) -> None:
    case_id = api.start(NUMBER)["id"]
    path = f"/cases/{case_id}/print/receipt"
    for user in ("clerk", "supervisor", "ivan", "auditor"):
        assert get(api, path, user).status_code == 200, user
    for user in ("clerk_b", "petr"):  # another authority's clerk, another applicant
        page = get(api, path, user)
        assert page.status_code == 404 and "Документ не найден" in page.text, user
    assert get(api, path, "analyst").status_code == 403
    anonymous = get(api, path, None)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    assert get(api, f"/cases/{case_id}/print/certificate", "clerk").status_code == 404
    assert get(api, "/cases/no-such-case/print/receipt", "clerk").status_code == 404
    assert get(api, "/cases/" + "x" * 5000 + "/print/receipt", "clerk").status_code == 404


def test_the_receipt_lists_the_documents_term_and_fee(api: Api) -> None:
    proc = catalog()[NUMBER]
    case_id = api.start(NUMBER)["id"]
    text = text_of(get(api, f"/cases/{case_id}/print/receipt", "clerk").text)
    assert "Расписка в приеме заявления" in text and case_id in text
    assert f"{NUMBER}. {proc.name}" in text and "Заявитель ivan" in text
    assert "Администрация Советского района г. Минска" in text
    for doc in proc.documents:
        if doc.condition is None:
            assert " ".join(doc.title.split()) in text
    assert "15 дней; решение будет принято не позднее 07.07.2025" in text
    assert "Бесплатно." in text and "Заявление принял(а): clerk" in text


def test_no_decision_no_decision_notice_nor_refusal(api: Api) -> None:
    case_id = api.start(NUMBER)["id"]
    for kind in ("decision", "refusal"):
        assert get(api, f"/cases/{case_id}/print/{kind}", "clerk").status_code == 404


def test_the_refusal_names_its_ground_the_superior_body_and_the_term_to_appeal(api: Api) -> None:
    proc = catalog()[NUMBER]
    case_id = decided(api, "refuse")
    page = get(api, f"/cases/{case_id}/print/refusal", "ivan")
    assert page.status_code == 200
    text = text_of(page.text)
    ground = proc.refusal_grounds[0]  # what tests.test_api_support.task_data refuses on
    assert "Уведомление об отказе" in text
    assert "18.06.2025 отказано в осуществлении административной процедуры" in text
    assert f"Основание отказа {' '.join(ground.title.split())}" in text
    assert f"Правовое основание: {ground.legal_basis}" in text
    assert (f"обжаловано в {proc.appeal.superior_body} в течение 12 месяцев со дня его принятия "
            "(по 18.06.2026 включительно), а также в суд") in text
    assert "Вышестоящий орган: Минский городской исполнительный комитет" in text
    assert get(api, f"/cases/{case_id}/print/decision", "ivan").status_code == 404
    assert get(api, f"/cases/{case_id}/print/refusal", "clerk_b").status_code == 404


def test_the_decision_notice_of_an_approved_case(api: Api) -> None:
    proc = catalog()[NUMBER]
    case_id = decided(api, "approve")
    text = text_of(get(api, f"/cases/{case_id}/print/decision", "clerk").text)
    assert "Уведомление об административном решении" in text
    assert f"принято решение об осуществлении административной процедуры. Выдается: {proc.result}" in text
    assert "Решение принял(а): supervisor" in text
    assert get(api, f"/cases/{case_id}/print/refusal", "clerk").status_code == 404


def test_a_refusal_to_accept_the_application(api: Api) -> None:
    case_id = api.start(NUMBER)["id"]
    ground = catalog()[NUMBER].acceptance_refusal_grounds[0]
    refused = api.post(f"/api/cases/{case_id}/refuse-acceptance", "clerk", {"ground": ground.id})
    assert refused.status_code == 200, refused.text
    text = text_of(get(api, f"/cases/{case_id}/print/refusal", "ivan").text)
    assert "отказано в принятии заявления" in text and " ".join(ground.title.split()) in text


def test_a_printable_refusal_in_the_browser(page, live) -> None:
    case_id = decided(live.api, "refuse")
    sign_in(page, live, "clerk")
    page.goto(live(f"/cases/{case_id}/print/refusal"))
    assert page.get_by_role("heading", level=1).inner_text() == "Уведомление об отказе"
    check_accessible(page)
    screenshot(page, "print-refusal")
    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    screenshot(page, "print-refusal-a4")

"""The clerk's pages of an appeal in chromium (tests/browser.py), checked with axe-core: the case
page with its facts, notices and forms, leaving an appeal without consideration from it, and the
book of remarks."""
from __future__ import annotations

from tests.browser import check_accessible, sign_in

APPEAL = {"kind": "complaint", "topic": "transport", "question": "Автобус № 5 не ходит по утрам."}


def register(live, number: str = "appeal", **data) -> str:
    r = live.api.post("/api/cases", "clerk", {"number": number, "channel": "written",
                                              "applicant": "Иванов Иван", "data": data})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_clerk_leaves_an_appeal_from_its_page(page, live) -> None:
    case_id = register(live, **APPEAL, email="ivanov@example.by")
    sign_in(page, live, "clerk")
    page.goto(live(f"/cases/{case_id}"))
    assert page.get_by_text("Автобус № 5 не ходит по утрам.").is_visible()
    assert page.get_by_text("транспорт и дороги").is_visible()
    check_accessible(page)
    page.get_by_label("Оставить без рассмотрения по существу: основание").select_option("abuse")
    page.get_by_label("Пояснение для заявителя (по желанию)", exact=True).last.fill("Без оскорблений.")
    with page.expect_navigation():
        page.get_by_role("button", name="Оставить без рассмотрения").click()
    assert page.get_by_role("heading", name="Уведомления").is_visible()
    assert page.get_by_role("link", name="Уведомление об оставлении обращения без рассмотрения "
                                         "по существу").is_visible()
    assert "оставлено без рассмотрения по существу" in page.locator("h1").inner_text()
    check_accessible(page)


def test_the_book_of_remarks_page_is_accessible(page, live) -> None:
    register(live, "remarks-book", kind="remark", topic="staff", question="Вежливые сотрудники.")
    sign_in(page, live, "clerk")
    page.goto(live("/remarks-book"))
    assert page.get_by_role("heading", name="Книга замечаний и предложений").is_visible()
    assert page.get_by_text("Вежливые сотрудники.").is_visible()
    check_accessible(page)

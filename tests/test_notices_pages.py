"""The notices' pages: a notice for print (who may see it, what it says), the case page's link to
it, and the supervisor's outbox page with its retry form; both in chromium."""
from __future__ import annotations

import pytest

from tests.browser import check_accessible, screenshot, sign_in
from tests.notices_support import ADDRESS, fail_all, noticed, outbox_row, reply
from tests.pages_support import post_form, sign_in_client
from tests.test_api_support import Api
from tests.test_pages_print import get, text_of


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def test_a_notice_is_printable_for_whoever_may_see_the_case(api: Api) -> None:
    notice = reply()
    case_id = noticed(api, notice)
    path = f"/cases/{case_id}/notices/{notice.id}"
    for user in ("clerk", "supervisor", "ivan", "auditor"):
        assert get(api, path, user).status_code == 200, user
    for user in ("clerk_b", "petr"):
        page = get(api, path, user)
        assert page.status_code == 404 and "Документ не найден" in page.text, user
    assert get(api, path, "analyst").status_code == 403
    assert get(api, path, None).headers["location"].startswith("/signin")
    assert get(api, f"/cases/{case_id}/notices/no-such-notice", "clerk").status_code == 404
    other = noticed(api, reply())  # a notice is found under its own case only
    assert get(api, f"/cases/{other}/notices/{notice.id}", "clerk").status_code == 404
    assert get(api, f"/cases/{case_id}/notices/" + "x" * 5000, "clerk").status_code == 404


def test_the_printed_notice_is_the_stored_document(api: Api) -> None:
    notice = reply()
    case_id = noticed(api, notice)
    text = text_of(get(api, f"/cases/{case_id}/notices/{notice.id}", "ivan").text)
    assert "Администрация Советского района г. Минска" in text
    assert "Ответ на обращение № minsk-sovetsky-2025-000001" in text
    assert "Уважаемый(ая) Иванов Иван Иванович!" in text
    assert "сообщаем: вывоз мусора возобновлён." in text
    assert f"Кому ivan ({ADDRESS})" in text and "Составлено 18.06.2025 12:00" in text
    assert "Состояние: ожидает отправки , попыток: 0." in text  # (its status in bold)
    printed = reply(recipient=None)
    notify_case = noticed(api, printed)
    text = text_of(get(api, f"/cases/{notify_case}/notices/{printed.id}", "clerk").text)
    assert "По электронной почте не направляется" in text


def test_the_case_page_links_its_notices(api: Api) -> None:
    notice = reply()
    case_id = noticed(api, notice)
    page = get(api, f"/cases/{case_id}", "clerk")
    assert page.status_code == 200
    assert f'href="/cases/{case_id}/notices/{notice.id}"' in page.text
    assert "Ответ на обращение № minsk-sovetsky-2025-000001</a> — ожидает отправки" in page.text


def test_the_outbox_page_shows_failures_and_retries_them(api: Api) -> None:
    ours = reply()
    noticed(api, ours)
    noticed(api, reply(), user="clerk_b", account=None)
    fail_all(api)
    sign_in_client(api, "supervisor")
    page = api.client.get("/notices")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Почтовый сервер не настроен (OKNO_SMTP_HOST)" in text
    assert "не отправлены (все попытки исчерпаны) 1" in text  # its own organisation's only
    assert "ConnectionRefusedError" in text and ADDRESS in text
    sent = post_form(api, "/notices", "/notices/retry", {"notice_id": ours.id},
                     follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/notices?retried={ours.id}"
    assert outbox_row(api.db, ours.id)["status"] == "pending"
    again = post_form(api, "/notices", "/notices/retry", {"notice_id": ours.id})
    assert again.status_code == 422
    assert "Уведомление уже не в состоянии «не отправлено»" in text_of(again.text)
    assert get(api, "/notices", "clerk").status_code == 403
    assert get(api, "/notices", "auditor").status_code == 200


def test_a_notice_and_the_outbox_in_the_browser(page, live) -> None:
    notice = reply()
    case_id = noticed(live.api, notice)
    failed = reply()
    noticed(live.api, failed)
    fail_all(live.api)
    sign_in(page, live, "supervisor")
    page.goto(live(f"/cases/{case_id}/notices/{notice.id}"))
    assert page.get_by_role("heading", level=1).inner_text() == notice.title
    check_accessible(page)
    screenshot(page, "notice")
    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    assert not page.get_by_role("heading", name="Доставка").is_visible()
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Отправка уведомлений").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Отправка уведомлений"
    check_accessible(page)
    screenshot(page, "notices-outbox")
    with page.expect_navigation():
        page.get_by_role("button", name="Отправить повторно").first.click()
    assert "будет отправлено повторно" in page.get_by_role("status").last.inner_text()

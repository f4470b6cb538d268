"""The reports page (api/pages/reports.py): who may see it, the figures it charts, the period
form's errors next to their fields, the CSV and XLSX downloads; over HTTP and in chromium."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest

from engine.accounts import add_user
from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import sign_in_client
from tests.test_api_support import PASSWORD, Api

NUMBER = "2.1"


@pytest.fixture
def api(tmp_path) -> Api:
    """minsk-sovetsky: three applications today (one decided, one withdrawn); minsk-frunzensky:
    one. A supervisor of minsk-gik (the superior body of both) besides the demo users."""
    api = Api(tmp_path)
    add_user(api.db, "gik_sup", PASSWORD, "supervisor", "minsk-gik")
    decided = api.start(NUMBER)["id"]
    api.advance(decided, NUMBER)
    withdrawn = api.start(NUMBER)["id"]
    api.services.cases.withdraw(withdrawn, actor="clerk")
    api.start(NUMBER)
    api.start(NUMBER, user="clerk_b")
    return api


def summary(html: str, label: str) -> str:
    """The figure beside `label` in the procedures' summary table."""
    html = html[html.index("Административные процедуры: итоги"):]
    found = re.search(rf'<th scope="row">{re.escape(label)}</th><td class="n">([^<]*)</td>', html)
    assert found, f"no row {label!r}"
    return found.group(1)


@pytest.mark.parametrize(("user", "status"), [("supervisor", 200), ("auditor", 200),
                                              ("clerk", 403), ("ivan", 403), ("analyst", 403)])
def test_who_sees_the_reports_page(api, user, status):
    sign_in_client(api, user)
    assert api.client.get("/reports").status_code == status


def test_the_page_shows_the_authority_s_figures(api):
    sign_in_client(api, "supervisor")
    r = api.client.get("/reports", params={"from": "2025-06-01", "to": "2025-06-30"})
    assert r.status_code == 200
    html = r.text
    assert summary(html, "Поступило заявлений") == "3"
    assert summary(html, "Принято решений") == "1"
    assert summary(html, "Отозвано") == "1"
    assert 'role="img"' in html and "Заявления по процедурам" in html
    assert "Администрация Советского района г. Минска" in html


def test_a_superior_body_picks_a_subordinate_and_no_other(api):
    sign_in_client(api, "gik_sup")
    html = api.client.get("/reports", params={"authority": "minsk-frunzensky"}).text
    assert summary(html, "Поступило заявлений") == "1"
    assert 'value="minsk-sovetsky"' in html  # offered
    sign_in_client(api, "supervisor")
    r = api.client.get("/reports", params={"authority": "minsk-frunzensky"})
    assert r.status_code == 422
    assert 'id="authority-error"' in r.text and "Поступило заявлений" not in r.text


@pytest.mark.parametrize(("query", "field", "text"), [
    ({"from": "2025-07-01", "to": "2025-06-01"}, "to", "не раньше, чем начинается"),
    ({"from": "01.06.2025"}, "from", "ГГГГ-ММ-ДД"),
])
def test_a_wrong_period_is_said_next_to_its_field(api, query, field, text):
    sign_in_client(api, "supervisor")
    r = api.client.get("/reports", params=query)
    assert r.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', r.text)
    assert error and text in error.group(1)


def test_the_downloads(api):
    sign_in_client(api, "supervisor")
    query = {"authority": "minsk-sovetsky", "from": "2025-06-01", "to": "2025-06-30"}
    csv_ = api.client.get("/reports/report.csv", params=query)
    assert csv_.status_code == 200 and csv_.headers["content-type"].startswith("text/csv")
    assert "Административные процедуры,Поступило заявлений,,3" in csv_.content.decode("utf-8-sig")
    xlsx = api.client.get("/reports/report.xlsx", params=query)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["Административные процедуры"]
    assert ("Поступило заявлений", None, 3) in list(sheet.iter_rows(values_only=True))
    assert api.client.get("/reports/report.pdf", params=query).status_code == 200  # the page


def test_the_reports_page_in_a_browser(page, live) -> None:
    api = live.api
    api.advance(api.start(NUMBER)["id"], NUMBER)
    sign_in(page, live, "supervisor")
    page.goto(live("/reports"))
    check_accessible(page)
    screenshot(page, "reports")
    page.get_by_label("Начало периода").fill("2025-07-01")
    page.get_by_label("Конец периода (включительно)").fill("2025-06-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Показать").click()
    assert "не раньше, чем начинается" in page.locator("#to-error").inner_text()
    check_accessible(page)

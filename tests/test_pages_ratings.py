"""The rating pages (api/pages/ratings.py): the applicant's form (once, their own ended case,
errors next to the criterion), the register and monitoring page with its CSV; over HTTP and in
chromium."""
from __future__ import annotations

import re

import pytest

from engine.accounts import add_user
from engine.store.tables import ratings
from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import csrf_of, post_form, sign_in_client
from tests.test_api_support import PASSWORD, Api

NUMBER = "2.1"
GRADES = {"simplicity": "5", "information": "4", "term": "3", "politeness": "5"}


@pytest.fixture
def api(tmp_path) -> Api:
    api = Api(tmp_path)
    add_user(api.db, "gik_sup", PASSWORD, "supervisor", "minsk-gik")
    return api


def _ended(api: Api, account: str = "ivan", clerk: str = "clerk") -> str:
    case_id = api.start(NUMBER, user=clerk, account=account)["id"]
    api.services.cases.withdraw(case_id, actor=account)
    return case_id


def test_the_applicant_rates_an_ended_case_once(api):
    case_id = _ended(api)
    sign_in_client(api, "ivan")
    page = f"/cases/{case_id}/rating"
    form = api.client.get(page)
    assert form.status_code == 200 and "Простота процедуры" in form.text
    sent = post_form(api, page, page, {**GRADES, "comment": "Быстро и вежливо"},
                     follow_redirects=False)
    assert sent.status_code == 303
    shown = api.client.get(page).text
    assert "Ваша оценка сохранена" in shown and "Быстро и вежливо" in shown
    assert 'name="simplicity"' not in shown  # no form a second time
    token = csrf_of(form.text)
    again = api.client.post(page, data={"csrf": token, **GRADES})
    assert "Ваша оценка сохранена" in again.text
    assert api.count(ratings) == 1


def test_a_missing_grade_is_said_next_to_its_criterion_and_nothing_is_stored(api):
    case_id = _ended(api)
    sign_in_client(api, "ivan")
    page = f"/cases/{case_id}/rating"
    r = post_form(api, page, page, {k: v for k, v in GRADES.items() if k != "term"}
                  | {"comment": "без срока"})
    assert r.status_code == 422
    assert re.search(r'<p class="error" id="term-error">Выберите оценку от 1 до 5.</p>', r.text)
    assert 'value="5" checked' in r.text and "без срока" in r.text  # what was chosen stays
    bad = post_form(api, page, page, {**GRADES, "comment": "a\u202eb"})
    assert bad.status_code == 422 and 'id="comment-error"' in bad.text
    assert api.count(ratings) == 0


def test_nobody_rates_another_s_case_or_one_under_way(api):
    theirs = _ended(api, account="petr")
    sign_in_client(api, "ivan")
    assert api.client.get(f"/cases/{theirs}/rating").status_code == 404
    running = api.start(NUMBER)["id"]
    r = api.client.get(f"/cases/{running}/rating")
    assert "ещё рассматривается" in r.text and 'name="simplicity"' not in r.text
    sign_in_client(api, "clerk")
    assert api.client.get(f"/cases/{theirs}/rating").status_code == 403


def test_the_register_page_and_the_monitoring_csv(api):
    for clerk, value in (("clerk", 5), ("clerk_b", 3)):
        case_id = _ended(api, clerk=clerk)
        api.post(f"/api/cases/{case_id}/rating", "ivan",
                 {k: value for k in ("simplicity", "information", "term", "politeness")})
    sign_in_client(api, "gik_sup")
    html = api.client.get("/ratings", params={"authority": "minsk-gik"}).text
    rows = re.findall(r'<tr><td class="n">(\d|—)</td><td>([^<]+)</td>', html)
    assert rows[:2] == [("1", "Администрация Советского района г. Минска"),
                        ("2", "Администрация Фрунзенского района г. Минска")]
    r = api.client.get("/ratings/monitoring.csv", params={"authority": "minsk-gik",
                                                          "half": "2025-H1"})
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("1,minsk-sovetsky,")
    bad = api.client.get("/ratings", params={"authority": "minsk-gik", "half": "2025-H3"})
    assert bad.status_code == 422 and 'id="half-error"' in bad.text
    sign_in_client(api, "supervisor")
    assert api.client.get("/ratings", params={"authority": "minsk-gik"}).status_code == 422


def test_rating_in_a_browser(page, live) -> None:
    api = live.api
    case_id = _ended(api)
    sign_in(page, live, "ivan")
    page.goto(live(f"/cases/{case_id}/rating"))
    check_accessible(page)
    screenshot(page, "rating-form")
    with page.expect_navigation():
        page.get_by_role("button", name="Отправить оценку").click()
    assert page.locator("#simplicity-error").inner_text() == "Выберите оценку от 1 до 5."
    check_accessible(page)
    for criterion in ("Простота процедуры", "Доступность информации", "Соблюдение сроков",
                      "Вежливость и компетентность персонала"):
        page.get_by_role("group", name=criterion).get_by_label("4 — хорошо").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Отправить оценку").click()
    assert "Ваша оценка сохранена" in page.get_by_role("status").inner_text()
    check_accessible(page)


def test_the_register_page_in_a_browser(page, live) -> None:
    api = live.api
    case_id = _ended(api)
    api.post(f"/api/cases/{case_id}/rating", "ivan",
             {k: 4 for k in ("simplicity", "information", "term", "politeness")})
    sign_in(page, live, "auditor")
    page.goto(live("/ratings?authority=minsk-gik"))
    check_accessible(page)
    screenshot(page, "ratings-register")
    assert page.get_by_role("img").count() == 1  # the register's chart

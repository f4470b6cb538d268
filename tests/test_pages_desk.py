"""The clerk's desk (/desk): filters, search, sort, working days left, saved filters, claiming
one or several tasks, the refreshing table part; over HTTP, and in chromium (tests/browser.py)."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from engine import saved_filters
from engine.read.worklist import DeskFilter, Scope, days_left, desk_page
from engine.store.tables import saved_filters as saved_table
from engine.terms import default_calendar
from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import post_form, sign_in_client
from tests.test_api_support import Api


@pytest.fixture
def api(tmp_path) -> Api:
    api = Api(tmp_path)
    api.cases = {
        "ivanov": api.start("1.1.5", applicant="Иванов Иван Иванович")["id"],
        "petrov": api.start("2.1", applicant="Петров Пётр Петрович", account="petr")["id"],
        "sidorova": api.start("1.1.5", applicant="Сидорова Анна", account=None)["id"],
    }
    api.cases["other_org"] = api.start("1.1.5", user="clerk_b", applicant="Иванов Другой")["id"]
    return api


def rows(html: str) -> list[str]:
    """The case ids of the rows shown, in order."""
    return re.findall(r'<td><a href="/cases/([0-9a-f-]{36})">', html)


def test_the_desk_needs_a_staff_or_auditor_session(api: Api) -> None:
    assert api.client.get("/desk", follow_redirects=False).headers["location"] == \
        "/signin?next=%2Fdesk"
    sign_in_client(api, "ivan")
    assert api.client.get("/desk").status_code == 403


def test_a_clerk_sees_their_organisations_tasks_earliest_due_first(api: Api) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get("/desk")
    assert page.status_code == 200
    shown = rows(page.text)
    assert set(shown) == {api.cases["ivanov"], api.cases["petrov"], api.cases["sidorova"]}
    assert shown[0] == api.cases["petrov"]  # 2.1: 5 days, the earliest due
    assert "Иванов Иван Иванович" in page.text and "Иванов Другой" not in page.text
    assert "1.1.5 Принятие решения о постановке на учет" in page.text  # the definition's name
    latest = api.client.get("/desk?sort=-due")
    assert rows(latest.text)[-1] == api.cases["petrov"]


def test_an_auditor_sees_every_organisation_and_claims_nothing(api: Api) -> None:
    sign_in_client(api, "auditor")
    page = api.client.get("/desk")
    assert api.cases["other_org"] in rows(page.text)
    assert 'name="tasks"' not in page.text and "Взять в работу отмеченные" not in page.text


@pytest.mark.parametrize(("query", "expected"), [
    ("applicant=иван", {"ivanov"}),           # lower case finds the capitalised name
    ("applicant=ИВАНОВ", {"ivanov"}),
    ("applicant=Пётр", {"petrov"}),
    ("applicant=анна", {"sidorova"}),
    ("applicant=%25", set()),                 # LIKE's wildcards are matched literally
    ("procedure=2.1", {"petrov"}),
    ("procedure=1.1.5&step=intake", {"ivanov", "sidorova"}),
    ("step=commission", set()),
    ("overdue=yes", set()),
    ("overdue=no", {"ivanov", "petrov", "sidorova"}),
    ("due_from=2025-07-01", {"ivanov", "sidorova"}),
    ("due_to=2025-06-30", {"petrov"}),
    ("assignee=none", {"ivanov", "petrov", "sidorova"}),
    ("assignee=me", set()),
    ("state=done", set()),
])
def test_filters_and_search(api: Api, query: str, expected: set[str]) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get(f"/desk?{query}")
    assert page.status_code == 200
    assert set(rows(page.text)) == {api.cases[k] for k in expected}


def test_search_by_case_number_is_a_prefix_of_the_case_id(api: Api) -> None:
    sign_in_client(api, "clerk")
    case_id = api.cases["sidorova"]
    assert rows(api.client.get(f"/desk?case={case_id[:6].upper()}").text) == [case_id]
    assert rows(api.client.get(f"/desk?case={case_id}").text) == [case_id]


@pytest.mark.parametrize(("query", "field", "text"), [
    ("case=xyz", "case", "Номер дела состоит из цифр"),
    ("applicant=" + "я" * 65, "applicant", "Не длиннее 64 символов."),
    ("procedure=9.9.9", "procedure", "Такой процедуры нет в перечне."),
    ("due_from=18.06.2025", "due_from", "Введите дату в формате ГГГГ-ММ-ДД."),
    ("due_from=2025-07-01&due_to=2025-06-01", "due_to", "Конец периода не раньше его начала."),
    ("limit=5000", "limit", "Целое число от 1 до 100."),
    ("overdue=maybe", "overdue", "Выберите из списка."),
])
def test_a_wrong_filter_is_named_in_russian_next_to_its_field(api: Api, query, field, text) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get(f"/desk?{query}")
    assert page.status_code == 422
    assert f'id="{field}-error">{text}' in page.text
    assert "Исправьте 1 ошибку" in page.text


def test_days_left_come_from_the_working_day_calendar(api: Api) -> None:
    calendar = default_calendar()
    friday = date(2025, 6, 20)
    assert days_left(calendar, friday, friday) == {"days": 0, "overdue": False, "soon": True}
    # Saturday and Sunday are not working days: Monday is one working day after Friday
    assert days_left(calendar, friday, friday + timedelta(days=3))["days"] == 1
    assert days_left(calendar, friday, date(2025, 6, 27)) == {"days": 5, "overdue": False,
                                                              "soon": False}
    # 7 January (Orthodox Christmas) is a public holiday: 6 -> 8 January is one working day
    assert days_left(calendar, date(2025, 1, 6), date(2025, 1, 8))["days"] == 1
    assert days_left(calendar, friday, date(2025, 6, 19)) == {"days": 1, "overdue": True,
                                                              "soon": False}
    assert days_left(calendar, friday, None)["days"] is None


def test_rows_are_flagged_overdue_or_due_soon_by_working_days(api: Api) -> None:
    scope = Scope.of("clerk", "clerk", "minsk-sovetsky")
    calendar = default_calendar()
    late = desk_page(api.db, scope, DeskFilter(), user="clerk", today=date(2025, 6, 30),
                     calendar=calendar)
    petrov = next(r for r in late["items"] if r["case_id"] == api.cases["petrov"])
    assert petrov["overdue"] and petrov["days"] >= 1
    soon = desk_page(api.db, scope, DeskFilter(procedure="2.1"), user="clerk",
                     today=petrov["due_date"] - timedelta(days=1), calendar=calendar)
    assert soon["items"][0]["soon"] and not soon["items"][0]["overdue"]


def test_overdue_and_due_soon_rows_carry_a_text_label_not_colour_alone(tmp_path) -> None:
    from datetime import UTC, datetime

    from engine.clock import FixedClock

    early = Api(tmp_path, FixedClock(datetime(2025, 6, 18, 9, 0, tzinfo=UTC)))
    early.start("2.1", applicant="Петров Пётр")
    later = Api(tmp_path, FixedClock(datetime(2025, 7, 1, 9, 0, tzinfo=UTC)))
    later.start("2.1", applicant="Новиков Олег")  # 5 days: due on Monday 7 July
    sign_in_client(later, "clerk")
    page = later.client.get("/desk")
    assert '<tr class="overdue">' in page.text
    assert re.search(r'class="badge overdue">Просрочено на \d+ раб\. д', page.text)
    soon = Api(tmp_path, FixedClock(datetime(2025, 7, 4, 9, 0, tzinfo=UTC)))
    sign_in_client(soon, "clerk")
    text = soon.client.get("/desk?applicant=Новиков").text
    assert '<tr class="due-soon">' in text and 'class="badge soon">Осталось 1 раб. день' in text


def test_claiming_several_tasks_at_once(api: Api) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get("/desk?procedure=1.1.5")
    picks = re.findall(r'name="tasks" value="([^"]+)"', page.text)
    assert len(picks) == 2
    sent = post_form(api, "/desk", "/desk/claim",
                     {"tasks": picks, "query": "procedure=1.1.5"}, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/desk?procedure=1.1.5&claimed=2&failed=0")
    after = api.client.get(sent.headers["location"])
    assert "Взято в работу: 2 задачи." in after.text
    mine = api.client.get("/desk?assignee=me")
    assert set(rows(mine.text)) == {api.cases["ivanov"], api.cases["sidorova"]}
    # the API agrees: the tasks are the clerk's
    assert all(t["assignee"] == "clerk" for t in api.open_tasks(api.cases["ivanov"]))


def test_a_claim_refused_is_reported_in_russian_and_changes_nothing(api: Api) -> None:
    task = api.open_tasks(api.cases["ivanov"])[0]
    api.post(f"/api/cases/{api.cases['ivanov']}/tasks/{task['id']}/claim", "supervisor")
    foreign = api.open_tasks(api.cases["other_org"])[0]
    sign_in_client(api, "clerk")
    sent = post_form(api, "/desk", "/desk/claim", {
        "tasks": [f"{api.cases['ivanov']}/{task['id']}",
                  f"{api.cases['other_org']}/{foreign['id']}"]})
    assert "Не удалось взять: 2." in sent.text
    assert "Задачу уже взял в работу supervisor." in sent.text
    assert api.open_tasks(api.cases["other_org"])[0]["assignee"] is None


def test_the_desk_shows_only_its_own_refusal_texts_from_its_url(api: Api) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get("/desk?failed=1&reason=Позвоните+по+номеру+123")
    assert "Позвоните" not in page.text and "Не удалось взять: 1." in page.text
    known = api.client.get("/desk?failed=1&reason=Задачу+уже+взял+в+работу+supervisor.")
    assert "Задачу уже взял в работу supervisor." in known.text


def test_claim_one_from_its_row_and_without_a_token_nothing(api: Api) -> None:
    sign_in_client(api, "clerk")
    task = api.open_tasks(api.cases["petrov"])[0]
    refused = api.client.post("/desk/claim", data={"one": f"{api.cases['petrov']}/{task['id']}"})
    assert refused.status_code == 403
    assert api.open_tasks(api.cases["petrov"])[0]["assignee"] is None
    post_form(api, "/desk", "/desk/claim", {"one": f"{api.cases['petrov']}/{task['id']}",
                                            "tasks": [f"{api.cases['ivanov']}/x"]})
    assert api.open_tasks(api.cases["petrov"])[0]["assignee"] == "clerk"
    assert api.open_tasks(api.cases["ivanov"])[0]["assignee"] is None


def test_saved_filters_per_user(api: Api) -> None:
    sign_in_client(api, "clerk")
    sent = post_form(api, "/desk", "/desk/filters", {"name": "Жильё", "query": "procedure=1.1.5"},
                     follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/desk?procedure=1.1.5"
    page = api.client.get("/desk")
    assert '<a href="/desk?procedure=1.1.5">Жильё</a>' in page.text
    assert saved_filters.list_filters(api.db, "clerk") == [{"name": "Жильё",
                                                            "query": "procedure=1.1.5"}]
    sign_in_client(api, "supervisor")
    assert "Жильё" not in api.client.get("/desk").text  # another user's filters are theirs
    sign_in_client(api, "clerk")
    empty = post_form(api, "/desk", "/desk/filters", {"name": "  ", "query": ""})
    assert empty.status_code == 422 and 'id="filter-name-error">Введите название фильтра.' in empty.text
    post_form(api, "/desk", "/desk/filters/delete", {"name": "Жильё"})
    assert api.count(saved_table) == 0


def test_saved_filters_are_bounded_per_user(api: Api) -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 18, tzinfo=UTC)
    for i in range(saved_filters.MAX_PER_USER):
        saved_filters.save_filter(api.db, "clerk", f"f{i}", "state=open", now)
    saved_filters.save_filter(api.db, "clerk", "f0", "state=done", now)  # replacing is fine
    with pytest.raises(Exception, match="удалите ненужный"):
        saved_filters.save_filter(api.db, "clerk", "one more", "", now)
    assert api.count(saved_table) == saved_filters.MAX_PER_USER


def test_the_table_part_refreshes_alone(api: Api) -> None:
    sign_in_client(api, "clerk")
    part = api.client.get("/desk/rows?procedure=2.1")
    assert part.status_code == 200
    assert "<html" not in part.text and rows(part.text) == [api.cases["petrov"]]
    page = api.client.get("/desk?procedure=2.1")
    assert 'hx-get="/desk/rows?procedure=2.1" hx-trigger="every 30s"' in page.text
    assert '<a href="/desk?procedure=2.1">Обновить список</a>' in page.text  # without JS


# ------------------------------------------------------------------------------------ browser

def test_the_desk_in_the_browser(page, live) -> None:
    live.api.start("1.1.5", applicant="Кузнецова Мария")
    live.api.start("2.1", applicant="Орлов Павел")
    sign_in(page, live, "clerk")
    page.goto(live("/desk"))
    assert page.get_by_role("heading", name="Рабочий список").is_visible()
    check_accessible(page)
    screenshot(page, "desk")
    page.get_by_label("Заявитель (часть имени)").fill("кузн")
    with page.expect_navigation():
        page.get_by_role("button", name="Найти").click()
    assert page.locator("table.desk tbody tr").count() == 1
    page.locator('input[name="tasks"]').first.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Взять в работу отмеченные").click()
    assert page.get_by_text("Взято в работу: 1 задача.").is_visible()
    screenshot(page, "desk-claimed")


def test_the_count_stops_at_its_cap_and_says_more(api: Api, monkeypatch) -> None:
    """Lists count their matches up to queries.COUNT_CAP (here lowered to 2): beyond, the desk
    says "более" and still offers the next page; the API says total_capped."""
    from engine.read import queries

    sign_in_client(api, "clerk")
    assert "Найдено: 3." in api.client.get("/desk").text
    assert api.get("/api/tasks").json()["total_capped"] is False
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    page = api.client.get("/desk?limit=2")
    assert "Найдено: более 2." in page.text and len(rows(page.text)) == 2
    assert 'href="/desk?limit=2&amp;offset=2"' in page.text or "offset=2" in page.text
    last = api.client.get("/desk?limit=2&offset=2")
    assert len(rows(last.text)) == 1 and "Следующие" not in last.text
    listed = api.get("/api/tasks").json()
    assert (listed["total"], listed["total_capped"], len(listed["items"])) == (2, True, 3)
    cases = api.get("/api/cases").json()
    assert (cases["total"], cases["total_capped"]) == (2, True)
    scope = Scope.of("clerk", "clerk", "minsk-sovetsky")
    exact = desk_page(api.db, scope, DeskFilter(procedure="2.1"), user="clerk",
                      today=date(2025, 6, 18), calendar=default_calendar())
    assert (exact["total"], exact["total_capped"]) == (1, False)

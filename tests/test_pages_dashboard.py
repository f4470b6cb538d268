"""The supervisor's dashboard (api/pages/dashboard.py): who may see it, whose figures it shows,
reassigning a task from it; over HTTP, and in chromium (tests/browser.py)."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from engine.accounts import add_user
from engine.clock import FixedClock
from engine.store.tables import events, tasks
from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import csrf_of, sign_in_client
from tests.test_api_support import ORG_A, ORG_B, PASSWORD, Api

NUMBER = "2.1"  # a 5-day term: started 2025-06-02, due 2025-06-09


def figure(html: str, label: str) -> int:
    """The number beside `label` in a data table of the page."""
    found = re.search(rf"<td>{re.escape(label)}</td><td class=\"n\">(\d+)</td>", html)
    assert found, f"no row {label!r}"
    return int(found.group(1))


@pytest.fixture
def api(tmp_path) -> Api:
    """Two cases of minsk-sovetsky started 2025-06-02 (one of them withdrawn), one of
    minsk-frunzensky; the clock then moves to 2025-06-18, so the open ones are overdue."""
    api = Api(tmp_path, clock=FixedClock(datetime(2025, 6, 2, 9, 0, tzinfo=UTC)))
    add_user(api.db, "clerk2", PASSWORD, "clerk", ORG_A)
    add_user(api.db, "supervisor_b", PASSWORD, "supervisor", ORG_B)
    api.case_a = api.start(NUMBER)["id"]
    api.case_withdrawn = api.start(NUMBER)["id"]
    api.services.cases.withdraw(api.case_withdrawn, actor="clerk")
    api.case_b = api.start(NUMBER, user="clerk_b")["id"]
    api.clock.at = datetime(2025, 6, 18, 9, 0, tzinfo=UTC)
    return api


@pytest.mark.parametrize("user", ["clerk", "analyst", "auditor", "ivan"])
def test_only_a_supervisor_sees_the_dashboard(api: Api, user: str) -> None:
    sign_in_client(api, user)
    page = api.client.get("/dashboard")
    assert page.status_code == 403 and "недоступна для вашей роли" in page.text
    assert api.case_a not in page.text


def test_signing_in_first(api: Api) -> None:
    page = api.client.get("/dashboard", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Fdashboard"


def test_the_dashboard_shows_the_authoritys_figures_as_charts_with_their_tables(api: Api) -> None:
    sign_in_client(api, "supervisor")
    page = api.client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    # By status: 1 open (case_a), 1 withdrawn; case_b is another authority's.
    assert figure(html, "в работе") == 1 and figure(html, "отозваны") == 1
    # Overdue: case_a, due 09.06.2025, 9 days late on 18.06.2025, linked to its case page.
    assert "Просроченные дела: 1" in html and f'href="/cases/{api.case_a}"' in html
    assert "09.06.2025" in html and '<td class="n">9</td>' in html
    # Load by clerk: nobody holds case_a's intake yet.
    assert figure(html, "Не назначены") == 1 and figure(html, "clerk2 (специалист)") == 0
    # Every chart is an image with a title naming its figures.
    assert html.count('<svg role="img"') == 4
    assert re.search(r'<title id="chart-status-title">Дела органа по состоянию: в работе — 1;', html)
    assert api.case_b not in html


def test_a_supervisor_of_another_authority_never_sees_these_figures(api: Api) -> None:
    sign_in_client(api, "supervisor_b")
    html = api.client.get("/dashboard").text
    assert figure(html, "в работе") == 1 and figure(html, "отозваны") == 0
    assert api.case_a not in html and api.case_withdrawn not in html and api.case_b in html
    assert "clerk2" not in html and "Орган: <b>Администрация Фрунзенского района г. Минска</b>" in html


def test_reassigning_a_task_from_the_dashboard(api: Api) -> None:
    sign_in_client(api, "supervisor")
    page = api.client.get("/dashboard")
    (task,) = [t for t in api.open_tasks(api.case_a)]
    before = api.count(events)
    sent = api.client.post("/dashboard/assign", data={
        "csrf": csrf_of(page.text), "case_id": api.case_a, "task_id": task["id"],
        "assignee": "clerk2"}, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/dashboard?assigned={task['id']}#tasks"
    assert api.open_tasks(api.case_a)[0]["assignee"] == "clerk2"
    assert api.count(events) == before + 1
    after = api.client.get(sent.headers["location"])
    assert f"Задача «{task['title']}» поручена: clerk2." in after.text
    assert figure(after.text, "clerk2 (специалист)") == 1


@pytest.mark.parametrize(("who", "assignee", "message"), [
    ("supervisor", "clerk_b", "Выберите специалиста своего органа"),  # another authority's clerk
    ("supervisor", "ivan", "Выберите специалиста своего органа"),
    ("supervisor", "", "Выберите, кому поручить задачу."),
    ("supervisor_b", "clerk2", "Такой открытой задачи в делах вашего органа нет."),
])
def test_a_refused_reassignment_says_why_next_to_the_field_and_changes_nothing(
        api: Api, who: str, assignee: str, message: str) -> None:
    sign_in_client(api, who)
    page = api.client.get("/dashboard")
    task = api.open_tasks(api.case_a)[0]
    before = api.count(events)
    sent = api.client.post("/dashboard/assign", data={
        "csrf": csrf_of(page.text), "case_id": api.case_a, "task_id": task["id"],
        "assignee": assignee})
    assert sent.status_code == 422
    assert api.count(events) == before and api.open_tasks(api.case_a)[0]["assignee"] is None
    if who == "supervisor":  # the row is on their page: the error sits under its field
        assert re.search(rf'id="assignee-{task["id"]}-error">{re.escape(message)}', sent.text)
        assert "Исправьте 1 ошибку" in sent.text
    else:  # not their task: only the summary says so, and nothing of the other authority shows
        assert message in sent.text and api.case_a not in sent.text


def test_a_reassignment_without_its_csrf_token_is_refused(api: Api) -> None:
    sign_in_client(api, "supervisor")
    task = api.open_tasks(api.case_a)[0]
    sent = api.client.post("/dashboard/assign", data={"case_id": api.case_a,
                                                      "task_id": task["id"], "assignee": "clerk2"})
    assert sent.status_code == 403 and api.open_tasks(api.case_a)[0]["assignee"] is None


def test_a_clerk_cannot_post_the_form(api: Api) -> None:
    sign_in_client(api, "clerk")
    page = api.client.get("/")
    task = api.open_tasks(api.case_a)[0]
    sent = api.client.post("/dashboard/assign", data={
        "csrf": csrf_of(page.text), "case_id": api.case_a, "task_id": task["id"],
        "assignee": "clerk"})
    assert sent.status_code == 403
    with api.db.connect() as conn:
        assert conn.execute(tasks.select().where(tasks.c.id == task["id"])).one().assignee is None


# ------------------------------------------------------------------------------------ browser

def seed(api: Api) -> str:
    """Figures worth a look: two cases started 02.06 (overdue on 18.06), four today, one of them
    decided, one claimed; returns an unclaimed case's id."""
    now = api.clock.at
    api.clock.at = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    late = [api.start(n)["id"] for n in ("2.1", "2.3")]
    api.clock.at = now
    fresh = [api.start(n)["id"] for n in ("2.1", "2.4", "5.1", "5.1")]
    api.advance(fresh[1], "2.4")
    claimed = api.open_tasks(late[0])[0]
    assert api.post(f"/api/cases/{late[0]}/tasks/{claimed['id']}/claim").status_code == 200
    return fresh[0]


def test_a_supervisor_reassigns_a_task_and_sees_the_new_assignee(page, live) -> None:
    api = live.api
    case_id = seed(api)
    task = api.open_tasks(case_id)[0]
    sign_in(page, live, "supervisor")
    page.goto(live("/dashboard"))
    check_accessible(page)
    screenshot(page, "dashboard")
    picker = page.get_by_label(f"Кому поручить задачу «{task['title']}» по делу № {case_id[:8]}")
    picker.select_option("clerk")
    with page.expect_navigation():
        picker.locator("xpath=..").get_by_role("button", name="Поручить").click()
    assert page.get_by_role("status").inner_text() == f"Задача «{task['title']}» поручена: clerk."
    row = page.locator("table.tasks tr", has=page.locator(f'a[href="/cases/{case_id}"]'))
    assert row.locator("td.assignee").inner_text() == "clerk"
    check_accessible(page)

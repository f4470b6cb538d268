"""Repeated appeals on the clerk's case page and the supervisor's decisions as pages
(api/pages/repeats.py): over HTTP, and in chromium."""
from __future__ import annotations

import pytest

from engine.store.tables import correspondence_terminations, public_answers
from tests.appeal_fixture import STAND_IN_PROCEDURE, answer, make_appeal
from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import post_form, sign_in_client
from tests.test_api_support import Api
from tests.test_repeats import PLAYGROUND, ROOF, ROOF_AGAIN


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def appeal(api: Api, question: str, account: str = "ivan") -> str:
    case = api.start(STAND_IN_PROCEDURE, applicant=account, account=account)
    return make_appeal(api.db, case["id"], question=question)


def repeated(api: Api) -> tuple[str, str]:
    first = appeal(api, ROOF)
    answer(api.db, first, at=api.clock.now())
    api.clock.advance(days=1)
    return first, appeal(api, ROOF_AGAIN)


def test_the_case_page_flags_a_repeated_appeal_with_a_link_to_the_earlier_one(api):
    first, again = repeated(api)
    other = appeal(api, PLAYGROUND)
    procedure = api.start("2.2")["id"]
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/{again}")
    assert page.status_code == 200
    assert "Повторное обращение:" in page.text and f'href="/cases/{first}"' in page.text
    assert "Прекратить переписку" not in page.text  # a clerk does not decide it
    assert "Повторным обращение не является." in api.client.get(f"/cases/{other}").text
    assert "Повторность и переписка" not in api.client.get(f"/cases/{procedure}").text


def test_a_supervisor_terminates_correspondence_and_the_next_appeal_shows_it(api):
    _, again = repeated(api)
    other = appeal(api, PLAYGROUND)
    sign_in_client(api, "supervisor")
    assert "Прекратить переписку с заявителем" in api.client.get(f"/cases/{again}").text
    empty = post_form(api, f"/cases/{again}/terminate-correspondence",
                      f"/cases/{again}/terminate-correspondence", {"ground": " "})
    assert empty.status_code == 422 and 'id="ground-error">Укажите основание' in empty.text
    not_repeated = post_form(api, f"/cases/{other}/terminate-correspondence",
                             f"/cases/{other}/terminate-correspondence", {"ground": "без доводов"})
    assert not_repeated.status_code == 409 and "не повторяет ни одного отвеченного" in not_repeated.text
    assert api.count(correspondence_terminations) == 0
    done = post_form(api, f"/cases/{again}/terminate-correspondence",
                     f"/cases/{again}/terminate-correspondence",
                     {"ground": "Повторные обращения без новых доводов"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{again}?done=terminate"
    api.clock.advance(days=1)
    later = appeal(api, ROOF)
    page = api.client.get(f"/cases/{later}").text
    assert "Переписка с заявителем по этому вопросу прекращена" in page
    assert "correspondence_terminated" in page
    sign_in_client(api, "clerk")
    assert api.client.get(f"/cases/{again}/terminate-correspondence").status_code == 403
    sign_in_client(api, "clerk_b")
    assert api.client.get(f"/cases/{again}/terminate-correspondence").status_code == 403


def test_a_supervisor_publishes_a_public_answer_from_the_case_page(api):
    cases = [appeal(api, "Когда восстановят освещение на ул. Садовой?", account=a)
             for a in ("ivan", "petr") for _ in range(6)]
    lonely = appeal(api, "Прошу построить школу.")
    sign_in_client(api, "supervisor")
    form = api.client.get(f"/cases/{cases[0]}/public-answer")
    assert form.status_code == 200 and "Одинаковых обращений: 12" in form.text
    few = post_form(api, f"/cases/{lonely}/public-answer", f"/cases/{lonely}/public-answer",
                    {"title": "Школа", "answer": "Построим."})
    assert few.status_code == 409 and "таких обращений 1" in few.text
    bad = post_form(api, f"/cases/{cases[0]}/public-answer", f"/cases/{cases[0]}/public-answer",
                    {"title": "", "answer": "Восстановят."})
    assert bad.status_code == 422 and 'id="title-error"' in bad.text
    assert api.count(public_answers) == 0
    done = post_form(api, f"/cases/{cases[0]}/public-answer", f"/cases/{cases[0]}/public-answer",
                     {"title": "Освещение на ул. Садовой", "answer": "Восстановят до 1 декабря."},
                     follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/answers/minsk-sovetsky#answer-")
    assert "дан публичный ответ" in api.client.get(f"/cases/{cases[3]}").text


def test_the_flags_and_the_termination_form_in_chromium(page, live):
    api = live.api
    _, again = repeated(api)
    sign_in(page, live, "supervisor")
    page.goto(live(f"/cases/{again}"))
    assert page.get_by_role("heading", name="Повторность и переписка").is_visible()
    check_accessible(page)
    page.get_by_role("link", name="Прекратить переписку с заявителем по этому вопросу").click()
    page.get_by_role("button", name="Прекратить переписку").click()
    assert page.locator("#ground-error").is_visible()
    check_accessible(page)
    screenshot(page, "appeal-terminate")


def test_the_work_list_marks_repeated_appeals(api):
    _, again = repeated(api)
    other = appeal(api, PLAYGROUND)
    sign_in_client(api, "clerk")
    rows = api.client.get("/desk/rows")
    assert rows.status_code == 200
    marked = [line for line in rows.text.splitlines() if "повторное" in line]
    assert len(marked) == 1 and again[:8] in marked[0]
    assert other[:8] in rows.text

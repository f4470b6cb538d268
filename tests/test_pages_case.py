"""The case page (/cases/{id}), its actions and the task form: over HTTP, and the issue's
acceptance test in chromium (tests/browser.py): a clerk finds a case by part of the applicant's
name, claims it, sends a form with three mistakes and sees all three in Russian, completes the
step and sees the case advance on its page and on its diagram; the same with JavaScript off."""
from __future__ import annotations

import re

import pytest

from engine.read.diagram import layout
from engine.store.tables import events
from tests.browser import SCREENSHOTS, check_accessible, screenshot, sign_in
from tests.casework import catalog
from tests.pages_support import csrf_of, post_form, sign_in_client
from tests.test_api_support import Api, task_data

GOOD_INTAKE = {"f_family_members": "3", "f_has_minor_children": "yes",
               "f_need_reason": "small_area", "f_area_per_person": "7,5",
               "f_priority_right": "none", "f_social_housing": "no",
               "f_brought_housing_certificate": "yes"}


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def started(api: Api, number: str = "1.1.5", applicant: str = "Иванов Иван Иванович") -> tuple[str, dict]:
    case_id = api.start(number, applicant=applicant)["id"]
    return case_id, api.open_tasks(case_id)[0]


def node_state(html: str, step: str) -> str:
    return re.search(rf'data-step="{step}" data-state="(\w*)"', html).group(1)


def test_the_case_page_shows_status_documents_term_steps_and_timeline(api: Api) -> None:
    case_id, task = started(api)
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    text = page.text
    assert f"Дело № {case_id[:8]}: на рассмотрении" in text
    assert "1.1.5 Принятие решения о постановке на учет" in text
    assert "18.07.2025" in text and "осталось 21 раб. день" in text  # 1 month, working days
    # the checklist: presented by the citizen / requested by the authority, from which body
    assert "паспорта или иные документы" in text
    assert "<strong>запрашивает орган</strong>: организация, осуществляющая эксплуатацию" in text
    assert "{% block fee %}" not in text and "бесплатно" in text
    # the diagram, the steps list (for a page without JavaScript) and the timeline
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in text
    assert node_state(text, "intake") == "current" and node_state(text, "review") == ""
    assert re.search(r'<li class="current" data-step="intake">Прием заявления и документов — '
                     r'<span class="state">выполняется</span>', text)
    assert "Заявление зарегистрировано" in text
    # the actions and the printable documents
    assert f'action="/cases/{case_id}/tasks/{task["id"]}/claim"' in text
    assert f'href="/cases/{case_id}/print/receipt"' in text


def test_the_page_links_the_documents_that_exist_a_refusal_to_accept_included(api: Api) -> None:
    case_id, _task = started(api)
    sign_in_client(api, "clerk")
    assert "/print/refusal" not in api.client.get(f"/cases/{case_id}").text
    refused = api.post(f"/api/cases/{case_id}/refuse-acceptance",
                       json={"ground": "documents_missing"})
    assert refused.status_code == 200, refused.text
    text = api.client.get(f"/cases/{case_id}").text
    assert f'href="/cases/{case_id}/print/refusal">Решение об отказе' in text
    assert "/print/decision" not in text
    assert api.client.get(f"/cases/{case_id}/print/refusal").status_code == 200


# Cases start on 18.06.2025, when the base unit was 42.00 roubles (base_units.yaml, from 2025-01-01).
@pytest.mark.parametrize(("number", "fee"), [
    ("1.1.5", "бесплатно"),
    ("13.2", "0.5 базовой величины — 21,00 руб. по базовой величине на 18.06.2025"),
    ("5.2", "1 базовая величина — 42,00 руб. по базовой величине на 18.06.2025")])
def test_the_fee_is_shown_in_base_units_and_roubles(api: Api, number: str, fee: str) -> None:
    case_id, _ = started(api, number)
    sign_in_client(api, "clerk")
    assert f"<dt>Плата</dt><dd>{fee}</dd>" in api.client.get(f"/cases/{case_id}").text


def test_a_drawn_bpmn_is_drawn_too_and_its_tasks_listed(api: Api) -> None:
    number = next(n for n, p in catalog().items() if p.bpmn)
    case_id, task = started(api, number)
    sign_in_client(api, "clerk")
    text = api.client.get(f"/cases/{case_id}").text
    assert node_state(text, task["step"]) == "current"
    listed = re.findall(r'<li class="(\w+)" data-step="(\w+)"', text)
    assert listed[0] == ("current", task["step"]) and len(listed) > 2
    assert all(state == "waiting" for state, _ in listed[1:])


def test_a_bpmn_without_a_diagram_or_not_xml_draws_nothing() -> None:
    bare = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
            '<bpmn:process id="p"><bpmn:userTask id="a"/></bpmn:process></bpmn:definitions>')
    assert layout(bare)["nodes"] == [] and layout("<not xml")["nodes"] == []
    entity = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              '<d>&x;</d>')
    assert layout(entity)["nodes"] == []


def test_a_case_of_another_organisation_is_not_found(api: Api) -> None:
    case_id, _ = started(api)
    sign_in_client(api, "clerk_b")
    assert api.client.get(f"/cases/{case_id}").status_code == 404
    assert api.client.get("/cases/no-such-case").status_code == 404
    sign_in_client(api, "auditor")  # auditors read every case, and change nothing
    page = api.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "/claim" not in page.text


def test_the_task_form_reports_every_mistake_in_russian_and_keeps_what_was_typed(api: Api) -> None:
    case_id, task = started(api)
    sign_in_client(api, "clerk")
    url = f"/cases/{case_id}/tasks/{task['id']}"
    form = api.client.get(url)
    assert form.status_code == 200 and 'name="f_family_members"' in form.text
    before = api.count(events)
    sent = api.client.post(url, data={**GOOD_INTAKE, "csrf": csrf_of(form.text),
                                      "f_family_members": "0", "f_area_per_person": "много",
                                      "f_need_reason": ""})
    assert sent.status_code == 422
    assert 'id="f_family_members-error">Значение должно быть не меньше 1.' in sent.text
    assert 'id="f_area_per_person-error">Ожидается число.' in sent.text
    assert 'id="f_need_reason-error">Обязательное поле: заполните его.' in sent.text
    assert "Исправьте 3 ошибки" in sent.text
    assert 'value="много"' in sent.text and 'value="0"' in sent.text  # kept as typed
    assert re.search(r'id="f_has_minor_children-yes" name="f_has_minor_children" value="yes" checked',
                     sent.text)
    assert api.count(events) == before  # nothing was written


def test_a_valid_form_completes_the_step_and_the_case_advances(api: Api) -> None:
    case_id, task = started(api)
    api.present_documents(case_id, "1.1.5")
    sign_in_client(api, "clerk")
    url = f"/cases/{case_id}/tasks/{task['id']}"
    sent = post_form(api, url, url, GOOD_INTAKE, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/cases/{case_id}?done=intake"
    page = api.client.get(sent.headers["location"])
    assert "Готово: Прием заявления и документов — шаг выполнен." in page.text
    assert node_state(page.text, "intake") == "done"
    assert node_state(page.text, "inspection") == "current"  # the certificate was brought
    data = api.get(f"/api/cases/{case_id}", "auditor").json()["data"]
    assert data["area_per_person"] == 7.5 and data["has_minor_children"] is True
    again = post_form(api, f"/cases/{case_id}", url, GOOD_INTAKE)
    assert again.status_code == 409 and "Задача уже выполнена" in again.text


def test_a_decision_form_needs_an_outcome_and_a_refusal_its_ground(api: Api) -> None:
    number = "2.1"
    case_id = api.start(number)["id"]
    api.advance(case_id, number, until_kind="decision")
    task = next(t for t in api.open_tasks(case_id) if t["kind"] == "decision")
    user = "supervisor" if task["acts_as"] == "supervisor" else "clerk"
    sign_in_client(api, user)
    url = f"/cases/{case_id}/tasks/{task['id']}"
    none = post_form(api, url, url, {})
    assert none.status_code == 422 and 'id="outcome-error">Выберите решение' in none.text
    no_ground = post_form(api, url, url, {"outcome": "refuse"})
    assert 'id="ground-error">Выберите основание отказа из списка.' in no_ground.text
    proc = catalog()[number]
    fields = {f"f_{k}": str(v) for k, v in task_data(proc, task).items() if k != "outcome"}
    done = post_form(api, url, url, {**fields, "outcome": "refuse",
                                     "ground": proc.refusal_grounds[0].id},
                     follow_redirects=False)
    assert done.status_code == 303, done.text
    case = api.get(f"/api/cases/{case_id}", "auditor").json()
    assert case["outcome"] == "refused"
    assert f'href="/cases/{case_id}/print/refusal"' in api.client.get(f"/cases/{case_id}").text


def test_actions_post_the_same_commands_and_refusals_are_russian(api: Api) -> None:
    number = next(n for n, p in catalog().items() if p.suspension_allowed)
    case_id, task = started(api, number)
    sign_in_client(api, "clerk")
    page = f"/cases/{case_id}"
    claimed = post_form(api, page, f"/cases/{case_id}/tasks/{task['id']}/claim",
                        follow_redirects=False)
    assert claimed.status_code == 303
    assert api.open_tasks(case_id)[0]["assignee"] == "clerk"
    proc = catalog()[number]
    ground = proc.suspension_grounds[0].id if proc.suspension_grounds else "documents"
    assert post_form(api, page, f"/cases/{case_id}/suspend", {"ground": ground},
                     follow_redirects=False).status_code == 303
    text = api.client.get(page).text
    assert "приостановлено" in text and "(продолжается)" in text
    twice = post_form(api, page, f"/cases/{case_id}/suspend", {"ground": ground})
    assert twice.status_code == 409
    assert "Приостановить можно только открытое дело." in twice.text
    assert post_form(api, page, f"/cases/{case_id}/resume",
                     follow_redirects=False).status_code == 303
    doc = proc.documents[0].id
    assert post_form(api, page, f"/cases/{case_id}/documents",
                     {"document": doc, "status": "presented"},
                     follow_redirects=False).status_code == 303
    unlisted = post_form(api, page, f"/cases/{case_id}/documents",
                         {"document": "no_such_doc", "status": "presented"})
    assert unlisted.status_code == 409 and "Директива № 2, п. 2.2" in unlisted.text
    assert post_form(api, page, f"/cases/{case_id}/withdraw", {"reason": "передумал"},
                     follow_redirects=False).status_code == 303
    final = api.client.get(page).text
    assert "заявление отозвано" in final and "Заявление отозвано" in final
    assert api.get(f"/api/cases/{case_id}", "auditor").json()["status"] == "withdrawn"


def test_an_action_without_the_csrf_token_is_refused(api: Api) -> None:
    case_id, _ = started(api)
    sign_in_client(api, "clerk")
    api.client.get(f"/cases/{case_id}")
    assert api.client.post(f"/cases/{case_id}/withdraw").status_code == 403
    assert api.get(f"/api/cases/{case_id}", "auditor").json()["status"] == "open"


# ------------------------------------------------------------------------------------ browser

def _three_mistakes(page) -> None:
    page.get_by_label("Количество членов семьи").fill("0")
    page.get_by_label("Общая площадь жилого помещения").fill("много")
    # "Основание для признания нуждающимся" is left unchosen
    for name in ("has_minor_children", "social_housing"):
        page.locator(f"#f_{name}-no").check()
    page.locator("#f_brought_housing_certificate-yes").check()
    page.get_by_label("Право на внеочередное").select_option("none")
    with page.expect_navigation():
        page.get_by_role("button", name="Выполнить шаг").click()


def _acceptance(page, live, javascript: bool) -> None:
    applicant = "Лукашевич Ольга Петровна" if javascript else "Коваленко Ирина Сергеевна"
    case_id = live.api.start("1.1.5", applicant=applicant)["id"]
    live.api.present_documents(case_id, "1.1.5")  # recorded at the window; intake waits for them
    sign_in(page, live, "clerk")
    page.goto(live("/desk"))
    page.get_by_label("Заявитель (часть имени)").fill(applicant.split()[0][:5].lower())
    with page.expect_navigation():
        page.get_by_role("button", name="Найти").click()
    assert page.locator("table.desk tbody tr").count() == 1
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^Взять в работу дело")).click()
    assert page.get_by_text("Взято в работу: 1 задача.").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Прием заявления и документов").click()
    assert page.get_by_text("Исполнитель").is_visible()
    _three_mistakes(page)
    errors = page.locator("p.error")
    assert errors.all_inner_texts() == ["Значение должно быть не меньше 1.",
                                        "Обязательное поле: заполните его.",
                                        "Ожидается число."]
    assert page.get_by_role("heading", name="Исправьте 3 ошибки").is_visible()
    assert page.get_by_label("Общая площадь жилого помещения").input_value() == "много"
    if javascript:
        check_accessible(page)
        screenshot(page, "task-form-errors")
    page.get_by_label("Количество членов семьи").fill("4")
    page.get_by_label("Общая площадь жилого помещения").fill("8")
    page.get_by_label("Основание для признания нуждающимся").select_option("small_area")
    with page.expect_navigation():
        page.get_by_role("button", name="Выполнить шаг").click()
    assert page.url == live(f"/cases/{case_id}?done=intake")
    assert page.get_by_text("Готово: Прием заявления и документов — шаг выполнен.").is_visible()
    steps = page.locator("ol.steps")
    assert "выполнен" in steps.locator('li[data-step="intake"]').inner_text()
    assert "выполняется" in steps.locator('li[data-step="inspection"]').inner_text()
    diagram = page.locator(".diagram svg")
    assert diagram.locator('g[data-step="intake"]').get_attribute("data-state") == "done"
    assert diagram.locator('g[data-step="inspection"]').get_attribute("data-state") == "current"
    assert diagram.locator('g[data-step="inspection"] rect.current').is_visible()
    if javascript:
        check_accessible(page)
        screenshot(page, "case-page")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".diagram").screenshot(path=str(SCREENSHOTS / "case-diagram.png"))


def test_a_clerk_finds_claims_corrects_and_completes_a_task(page, live) -> None:
    _acceptance(page, live, javascript=True)


@pytest.mark.no_javascript
def test_the_same_with_javascript_off(page, live) -> None:
    _acceptance(page, live, javascript=False)

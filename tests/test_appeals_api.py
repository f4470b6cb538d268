"""Appeals over the JSON API and on the clerk's pages: registering through POST /api/cases, the
case JSON's new fields, the forward / extend / leave / reply routes, problem+json naming the
field, and the case page's facts and forms."""
from __future__ import annotations

import re

import pytest

from engine.store.tables import cases, notices
from tests.pages_support import post_form, sign_in_client
from tests.test_api_support import ORG_A, ORG_B, Api

APPEAL = {"kind": "complaint", "topic": "housing", "question": "Во дворе не вывозят мусор."}


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def register(api: Api, user: str = "clerk", **data) -> dict:
    r = api.post("/api/cases", user, {"number": "appeal", "channel": "written",
                                      "applicant": "Иванов Иван", "data": {**APPEAL, **data}})
    assert r.status_code == 201, r.text
    return r.json()


def problem(r, status: int, field: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field, r.json()
    return r.json()


def to_reply(api: Api, case_id: str) -> None:
    for user in ("clerk", "clerk"):
        [task] = api.get(f"/api/cases/{case_id}").json()["tasks"]
        r = api.post(f"/api/cases/{case_id}/tasks/{task['id']}/complete", user, {"data": {}})
        assert r.status_code == 200, r.text


def test_an_appeal_is_registered_and_shown_with_its_number_kind_and_topic(api):
    case = register(api, email="ivanov@example.by")
    assert {k: case[k] for k in ("type", "reg_number", "kind", "kind_title", "topic",
                                 "topic_title", "question", "email", "anonymous", "channel",
                                 "authority", "status", "due_date")} == {
        "type": "appeal", "reg_number": f"{ORG_A}-2025-000001", "kind": "complaint",
        "kind_title": "жалоба", "topic": "housing", "topic_title": "жилищно-коммунальное хозяйство",
        "question": APPEAL["question"], "email": "ivanov@example.by", "anonymous": False,
        "channel": "written", "authority": ORG_A, "status": "open", "due_date": "2025-07-07"}
    assert case["notices"] == []
    listed = api.get("/api/cases?type=appeal").json()
    assert [(i["id"], i["type"], i["reg_number"]) for i in listed["items"]] == [
        (case["id"], "appeal", f"{ORG_A}-2025-000001")]
    assert api.get("/api/cases?type=procedure").json()["total"] == 0
    detail = api.get("/api/procedures/appeal").json()
    assert detail["type"] == "appeal"
    assert [k["id"] for k in detail["kinds"]] == ["statement", "proposal", "complaint"]


@pytest.mark.parametrize(("data", "status", "field"), [
    ({**APPEAL, "kind": "petition"}, 422, "data.kind"),
    ({**APPEAL, "question": ""}, 422, "data.question"),
    ({"kind": "complaint", "topic": "housing"}, 422, "data.question"),
    ({**APPEAL, "email": "nobody"}, 422, "data.email"),
    ({**APPEAL, "extra": 1}, 422, "data.extra"),
])
def test_bad_registration_data_is_problem_json_naming_the_field(api, data, status, field):
    before = api.count(cases)
    r = api.post("/api/cases", "clerk", {"number": "appeal", "channel": "written",
                                         "applicant": "Иванов", "data": data})
    problem(r, status, field)
    assert api.count(cases) == before


def test_a_procedure_channel_for_an_appeal_and_data_for_a_procedure_are_refused(api):
    r = api.post("/api/cases", "clerk", {"number": "appeal", "channel": "in_person",
                                         "applicant": "Иванов", "data": APPEAL})
    problem(r, 422, "channel")
    r = api.post("/api/cases", "clerk", {"number": "2.1", "channel": "in_person",
                                         "applicant": "Иванов", "data": APPEAL})
    problem(r, 422, "data")


def test_an_applicant_files_an_appeal_electronically(api):
    r = api.post("/api/cases", "ivan", {"number": "appeal", "authority": ORG_A, "data": APPEAL})
    assert r.status_code == 201, r.text
    assert (r.json()["channel"], r.json()["applicant"]) == ("electronic", "ivan")
    r = api.post("/api/cases", "ivan", {"number": "appeal", "authority": ORG_A,
                                        "channel": "portal", "data": APPEAL})
    problem(r, 422, "channel")


def test_forward_extend_leave_and_reply_over_the_api(api):
    forwarded = register(api, email="ivanov@example.by")["id"]
    r = api.post(f"/api/cases/{forwarded}/forward", "clerk", {"to": ORG_B, "note": "по компетенции"})
    assert r.status_code == 200, r.text
    assert api.get(f"/api/cases/{forwarded}", "clerk").status_code == 404  # not ours any more
    view = api.get(f"/api/cases/{forwarded}", "clerk_b").json()
    assert (view["authority"], view["forwarded_from"]) == (ORG_B, ORG_A)
    [notice] = view["notices"]
    assert notice["kind"] == "forwarded" and notice["due_by"] == "2025-06-25"
    assert notice["href"] == f"/cases/{forwarded}/notices/{notice['id']}"
    assert notice["recipient"] == "ivanov@example.by"

    extended = register(api)["id"]
    r = api.post(f"/api/cases/{extended}/extend", "clerk", {"extension": "extra_study"})
    assert (r.status_code, r.json()["due_date"]) == (200, "2025-07-18")

    left = register(api)["id"]
    r = api.post(f"/api/cases/{left}/leave", "clerk", {"ground": "abuse"})
    assert (r.status_code, r.json()["outcome"], r.json()["ground"]) == (
        200, "left_without_consideration", "abuse")

    answered = register(api)["id"]
    to_reply(api, answered)
    r = api.post(f"/api/cases/{answered}/reply", "supervisor",
                 {"outcome": "satisfied", "reply": "Мусор вывезен."})
    assert (r.status_code, r.json()["status"], r.json()["outcome"]) == (200, "completed", "satisfied")
    with api.db.connect() as conn:
        kinds = sorted(conn.execute(notices.select().with_only_columns(notices.c.kind)).scalars())
    assert kinds == ["forwarded", "left_without_consideration", "reply"]


@pytest.mark.parametrize(("route", "body", "status", "field"), [
    ("forward", {"to": "nowhere-at-all"}, 422, "to"),
    ("forward", {"to": ORG_A}, 422, "to"),
    ("forward", {"to": "Bad Id"}, 422, "to"),
    ("extend", {"extension": "forever"}, 422, "extension"),
    ("extend", {"extension": "beyond_month"}, 409, "extension"),
    ("leave", {"ground": "no_ground"}, 422, "ground"),
    ("leave", {"ground": "abuse", "note": "x" * 4001}, 422, "note"),
])
def test_bad_commands_are_problem_json_and_change_nothing(api, route, body, status, field):
    case = register(api)
    r = api.post(f"/api/cases/{case['id']}/{route}", "clerk", body)
    problem(r, status, field)
    after = api.get(f"/api/cases/{case['id']}").json()
    assert (after["row_version"], after["authority"], after["status"]) == (
        case["row_version"], ORG_A, "open")


def test_a_reply_with_a_bad_outcome_or_without_text_is_refused(api):
    case_id = register(api)["id"]
    to_reply(api, case_id)
    problem(api.post(f"/api/cases/{case_id}/reply", "supervisor",
                     {"outcome": "approve", "reply": "текст"}), 422, "outcome")
    problem(api.post(f"/api/cases/{case_id}/reply", "supervisor",
                     {"outcome": "satisfied", "reply": ""}), 422, "reply")
    assert api.get(f"/api/cases/{case_id}").json()["status"] == "open"


def test_the_case_page_shows_the_appeal_and_its_actions(api):
    case = register(api, email="ivanov@example.by")
    api.post(f"/api/cases/{case['id']}/extend", "clerk", {"extension": "extra_study"})
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/{case['id']}")
    assert page.status_code == 200, page.text
    html = page.text
    for text in (f"{ORG_A}-2025-000001", "жалоба", "жилищно-коммунальное хозяйство",
                 APPEAL["question"], "Направить по компетенции в", "Оставить без рассмотрения",
                 "Обращение требует дополнительного изучения и проверки"):
        assert text in html, text
    assert "Плата" not in html  # an appeal has no fee
    assert 'name="extension"' in html and "beyond_month" in html  # the next extension offered


def test_the_clerk_leaves_forwards_and_replies_from_the_case_page(api):
    left, forwarded, answered = (register(api)["id"] for _ in range(3))
    sign_in_client(api, "clerk")
    page = f"/cases/{left}"
    refused = post_form(api, page, f"/cases/{left}/leave", {"ground": "no_such"})
    assert refused.status_code == 422 and "Выберите основание из списка." in refused.text
    sent = post_form(api, page, f"/cases/{left}/leave", {"ground": "repeated"},
                     follow_redirects=False)
    assert sent.status_code == 303
    shown = api.client.get(sent.headers["location"]).text
    assert "оставлено без рассмотрения по существу" in shown
    assert "Уведомление об оставлении обращения без рассмотрения по существу" in shown
    sent = post_form(api, f"/cases/{forwarded}", f"/cases/{forwarded}/forward", {"to": ORG_B},
                     follow_redirects=False)
    assert sent.status_code == 303
    assert api.get(f"/api/cases/{forwarded}", "clerk_b").json()["authority"] == ORG_B
    to_reply(api, answered)
    sign_in_client(api, "supervisor")
    page = api.client.get(f"/cases/{answered}").text
    assert "Дать ответ" in page
    task = re.search(r'name="task" value="([0-9a-f-]{36})"', page).group(1)
    empty = post_form(api, f"/cases/{answered}", f"/cases/{answered}/reply",
                      {"task": task, "outcome": "explained", "reply": ""})
    assert empty.status_code == 422
    sent = post_form(api, f"/cases/{answered}", f"/cases/{answered}/reply",
                     {"task": task, "outcome": "explained", "reply": "Разъяснено."},
                     follow_redirects=False)
    assert sent.status_code == 303
    assert api.get(f"/api/cases/{answered}", "supervisor").json()["outcome"] == "explained"


def test_the_book_of_remarks_records_entries_and_answers(api):
    entry = api.post("/api/cases", "clerk", {
        "number": "remarks-book", "channel": "written", "applicant": "Петров П. П.",
        "data": {"kind": "remark", "topic": "service", "question": "Долго ждал в очереди."}})
    assert entry.status_code == 201, entry.text
    case_id = entry.json()["id"]
    unanswered = api.post("/api/cases", "clerk", {
        "number": "remarks-book", "channel": "written", "applicant": "Сидоров С. С.",
        "data": {"kind": "suggestion", "topic": "premises", "question": "Нужен кулер."}}).json()
    [task] = api.get(f"/api/cases/{case_id}").json()["tasks"]
    assert api.post(f"/api/cases/{case_id}/tasks/{task['id']}/complete", "clerk",
                    {"data": {}}).status_code == 200
    r = api.post(f"/api/cases/{case_id}/reply", "supervisor",
                 {"outcome": "answered", "reply": "Открыто второе окно приёма."})
    assert (r.status_code, r.json()["outcome"]) == (200, "answered")
    book = api.get("/api/remarks-book", "clerk").json()
    assert book["total"] == 2
    assert {(e["id"], e["text"], e["answer"]) for e in book["items"]} == {
        (case_id, "Долго ждал в очереди.", "Открыто второе окно приёма."),
        (unanswered["id"], "Нужен кулер.", None)}
    assert api.get(f"/api/remarks-book?authority={ORG_B}", "clerk").status_code == 403
    problem(api.get("/api/remarks-book", "auditor"), 422, "authority")
    assert api.get(f"/api/remarks-book?authority={ORG_A}", "auditor").json()["total"] == 2
    assert api.get("/api/remarks-book", "clerk_b").json()["total"] == 0
    sign_in_client(api, "clerk")
    page = api.client.get("/remarks-book")
    assert page.status_code == 200
    for text in ("Книга замечаний и предложений", "Долго ждал в очереди.",
                 "Открыто второе окно приёма.", "Нужен кулер.", "ответ не дан",
                 f"{ORG_A}-2025-000001"):
        assert text in page.text, text


def test_the_reply_step_s_task_form_offers_the_appeal_s_outcomes(api):
    case_id = register(api)["id"]
    to_reply(api, case_id)
    [task] = api.get(f"/api/cases/{case_id}", "supervisor").json()["tasks"]
    sign_in_client(api, "supervisor")
    page = f"/cases/{case_id}/tasks/{task['id']}"
    html = api.client.get(page).text
    assert "даны разъяснения" in html and 'value="approve"' not in html
    refused = post_form(api, page, page, {"outcome": "approve", "f_reply": "текст"})
    assert refused.status_code == 422
    assert "Выберите результат рассмотрения из списка." in refused.text
    sent = post_form(api, page, page, {"outcome": "not_satisfied", "f_reply": "Оснований нет."},
                     follow_redirects=False)
    assert sent.status_code == 303, sent.text
    assert api.get(f"/api/cases/{case_id}", "supervisor").json()["outcome"] == "not_satisfied"


def test_the_stand_shows_procedures_only(api):
    """The information stand follows the Ministry of Justice's recommendations for procedures:
    appeals and the book of remarks are not on it."""
    stand = api.client.get(f"/stand/{ORG_A}")
    assert stand.status_code == 200
    assert f'href="/stand/{ORG_A}/1.1.5"' in stand.text  # its procedures are listed
    assert f"/stand/{ORG_A}/appeal" not in stand.text and "remarks-book" not in stand.text
    assert api.client.get(f"/stand/{ORG_A}/appeal").status_code == 404

"""Service options (issue 13): alternative orders of service, each with its own term and fee,
chosen at intake and driving the case's due date and fee (docs/authoring.md, "Service options")."""
from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FixedClock
from engine.definition.build import build_procedure
from engine.diff.model import BURDEN, NEUTRAL, SIMPLIFICATION
from engine.diff.pairing import diff_catalogs
from engine.errors import InvalidInput
from engine.read import queries
from engine.store.tables import cases
from tests.casework import Engine, catalog
from tests.pages_support import csrf_of, sign_in_client
from tests.test_api_support import Api
from tests.test_catalog import BASE, assert_one_problem, assert_valid

PASSPORT = "11.1.1"
ROOT = Path(__file__).resolve().parent.parent

GENERAL = {"id": "general", "title": "в общем порядке", "default": True,
           "term": {"max": BASE["term"]["max"]}, "fee": BASE["fee"]}
URGENT = {"id": "urgent", "title": "в срочном порядке", "term": {"max": "7 days"},
          "fee": {"kind": "base_units", "base_units": 2}, "legal_basis": "Указ № 200",
          "notes": "по памяти"}


def with_options(*options: dict[str, Any], **top: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["options"] = copy.deepcopy(list(options))
    data.update(copy.deepcopy(top))
    return data


# ------------------------------------------------------------------------------ the format

def test_options_with_a_default_are_valid():
    proc = assert_valid(with_options(GENERAL, URGENT))
    assert [o.id for o in proc.options] == ["general", "urgent"]
    assert proc.default_option.id == "general"
    urgent = proc.option("urgent")
    assert (urgent.term, urgent.fee.amount(), urgent.legal_basis, urgent.notes) == (
        "7 days", 2, "Указ № 200", "по памяти")


def test_options_without_a_default_are_valid_and_demand_a_choice():
    proc = assert_valid(with_options({**GENERAL, "default": False}, URGENT))
    assert proc.default_option is None


def test_an_option_term_in_russian_reads_like_okno_due():
    assert assert_valid(with_options(GENERAL, {**URGENT, "term": {"max": "7 дней"}})).option(
        "urgent").term == "7 дней"


@pytest.mark.parametrize("option, path, words", [
    ({k: v for k, v in URGENT.items() if k != "term"}, ("options", 1), ("term",)),
    ({k: v for k, v in URGENT.items() if k != "fee"}, ("options", 1), ("fee",)),
    ({**URGENT, "id": "Urgent!"}, ("options", 1, "id"), ("does not match",)),
    ({**URGENT, "title": ""}, ("options", 1, "title"), ()),
    ({**URGENT, "default": "yes"}, ("options", 1, "default"), ("boolean",)),
    ({**URGENT, "fee": {"kind": "base_units"}}, ("options", 1, "fee"), ("base_units",)),
    ({**URGENT, "speed": "fast"}, ("options", 1, "speed"), ("speed",)),
    ({**URGENT, "term": {"max": "7 days", "extra": 1}}, ("options", 1, "term", "extra"), ("extra",)),
])
def test_the_schema_refuses_a_malformed_option(option, path, words):
    assert_one_problem(with_options(GENERAL, option), path, *words)


def test_an_empty_options_list_is_refused():
    assert_one_problem(with_options(), ("options",))


def test_an_unreadable_option_term_lists_the_accepted_forms():
    problem = assert_one_problem(with_options(GENERAL, {**URGENT, "term": {"max": "a week or so"}}),
                                 ("options", 1, "term", "max"), "a week or so")
    assert "дней" in problem.message  # the accepted forms are listed


@pytest.mark.parametrize("options, path, words", [
    ((GENERAL, {**URGENT, "id": "general"}), ("options", 1, "id"), ("'general'", "twice")),
    ((GENERAL, {**URGENT, "title": GENERAL["title"]}), ("options", 1, "title"), ("twice",)),
    ((GENERAL, {**URGENT, "default": True}), ("options", 1, "default"), ("more than one default",)),
    (({**GENERAL, "term": {"max": "1 month"}}, URGENT), ("options", 0, "term", "max"),
     ("term.max",)),
    (({**GENERAL, "fee": {"kind": "free"}}, URGENT), ("options", 0, "fee"), ("procedure's fee",)),
])
def test_the_semantic_checks_refuse(options, path, words):
    assert_one_problem(with_options(*options), path, *words)


def test_the_catalog_passport_row_has_three_orders():
    proc = catalog()[PASSPORT]
    assert [(o.id, o.term, o.fee.amount()) for o in proc.options] == [
        ("general", "1 month", 0), ("accelerated", "15 days", 1), ("urgent", "7 days", 2)]
    assert proc.citation.kind == "unverified"  # the fees are from memory, and say so
    assert proc.authorities[0].kind == "internal_affairs_body"


# ------------------------------------------------------------------------------ cases

@pytest.mark.parametrize("option, start, due, fee", [
    # 2026-03-02 (Mon) + 1 month = 2026-04-02, a Thursday: a working day.
    ("general", date(2026, 3, 2), date(2026, 4, 2), 0),
    # 2026-03-02 + 15 days (counted from the next day) = 2026-03-17, a Tuesday: a working day.
    ("accelerated", date(2026, 3, 2), date(2026, 3, 17), 1),
    # 2026-03-02 + 7 days = 2026-03-09, a Monday (8 March, a Sunday, is not carried over).
    ("urgent", date(2026, 3, 2), date(2026, 3, 9), 2),
    # 2026-04-13 + 7 days = 2026-04-20, a Monday made a day off (worked on Saturday 25 April);
    # 21 April is Radunitsa: the term ends on the next working day, Wednesday 2026-04-22.
    ("urgent", date(2026, 4, 13), date(2026, 4, 22), 2),
    # 2026-04-13 + 15 days = 2026-04-28, a Tuesday.
    ("accelerated", date(2026, 4, 13), date(2026, 4, 28), 1),
])
def test_the_chosen_option_sets_the_due_date_and_the_fee(tmp_path, option, start, due, fee):
    eng = Engine(tmp_path / "okno.db", at=datetime(start.year, start.month, start.day, 7, 0, tzinfo=UTC))
    case_id = eng.start(PASSPORT, option=option)
    view = queries.case_view(eng.db, case_id, eng.versions, eng.cases.calendar)
    assert view["start_date"] == start and view["due_date"] == due
    assert view["fee"]["base_units"] == fee
    assert view["option"]["id"] == option
    assert view["option"]["title"] == catalog()[PASSPORT].option(option).title
    # The payment document is asked for only when the order is paid for (a condition on option).
    documents = {d["id"] for d in view["documents"]}
    assert ("payment_proof" in documents) == (fee > 0)


def test_no_option_chosen_takes_the_default(tmp_path):
    eng = Engine(tmp_path / "okno.db", at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    view = queries.case_view(eng.db, eng.start(PASSPORT), eng.versions, eng.cases.calendar)
    assert view["option"]["id"] == "general" and view["due_date"] == date(2026, 4, 2)


def test_unknown_option_is_refused_and_nothing_is_stored(tmp_path):
    eng = Engine(tmp_path / "okno.db", at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    with eng.db.connect() as conn:
        before = conn.execute(cases.select()).all()
    with pytest.raises(InvalidInput) as refused:
        eng.start(PASSPORT, option="overnight")
    assert refused.value.field == "option"
    with pytest.raises(InvalidInput) as refused:
        eng.start("2.1", option="urgent")  # 2.1 has no options
    assert refused.value.field == "option"
    with eng.db.connect() as conn:
        assert conn.execute(cases.select()).all() == before


def test_without_a_default_the_option_must_be_chosen(tmp_path):
    proc = catalog()[PASSPORT]
    data = proc.definition
    data["options"][0]["default"] = False
    procedures = {**catalog(), PASSPORT: build_procedure(data, proc.source)}
    eng = Engine(tmp_path / "okno.db", at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
                 procedures=procedures)
    with pytest.raises(InvalidInput, match="choose the service option") as refused:
        eng.start(PASSPORT)
    assert refused.value.field == "option"
    case_id = eng.start(PASSPORT, option="urgent")
    assert eng.case(case_id)["due_date"] == date(2026, 3, 9)


# ------------------------------------------------------------------------------ the diff

def _passport(mutate) -> Any:
    proc = catalog()[PASSPORT]
    data = proc.definition
    mutate(data)
    return build_procedure(data, proc.source)


def _changes(new) -> list[tuple[str, str]]:
    diff = diff_catalogs({PASSPORT: catalog()[PASSPORT]}, {PASSPORT: new})
    return [(c.kind, c.class_) for c in diff.changes]


def test_a_removed_faster_option_is_a_burden():
    new = _passport(lambda d: d["options"].pop())  # the urgent order (7 days) is gone
    diff = diff_catalogs({PASSPORT: catalog()[PASSPORT]}, {PASSPORT: new})
    [change] = diff.changes
    assert (change.kind, change.class_) == ("option.removed", BURDEN)
    assert "более быстрого порядка на выбор больше нет" in change.message


def test_a_new_option_longer_than_every_existing_one_is_a_burden():
    slow = {"id": "slow", "title": "в течение 2 месяцев", "term": {"max": "2 months"},
            "fee": {"kind": "free"}}
    new = _passport(lambda d: d["options"].append(slow))
    assert _changes(new) == [("option.added", BURDEN)]


def test_a_higher_option_fee_is_a_burden():
    new = _passport(lambda d: d["options"][1]["fee"].update(base_units=1.5))
    diff = diff_catalogs({PASSPORT: catalog()[PASSPORT]}, {PASSPORT: new})
    [change] = diff.changes
    assert (change.kind, change.class_) == ("option.fee_increased", BURDEN)
    assert change.message.startswith("Плата за порядок «в ускоренном порядке")


def test_a_removed_slowest_option_is_a_relief_and_a_faster_new_one_more_choice():
    def drop_general(d):
        d["options"] = d["options"][1:]
        d["options"][0]["default"] = True
    assert ("option.removed", SIMPLIFICATION) in _changes(_passport(drop_general))
    express = {"id": "express", "title": "в течение 3 дней", "term": {"max": "3 days"},
               "fee": {"kind": "base_units", "base_units": 4}}
    assert _changes(_passport(lambda d: d["options"].append(express))) == [
        ("option.added", SIMPLIFICATION)]


def test_a_longer_option_term_is_a_burden_and_a_reworded_one_neutral():
    longer = _passport(lambda d: d["options"][2]["term"].update(max="10 days"))
    assert _changes(longer) == [("option.term_longer", BURDEN)]
    same = _passport(lambda d: d["options"][2]["term"].update(max="7 calendar days"))
    assert _changes(same) == [("option.term_reworded", NEUTRAL)]


# ------------------------------------------------------------------------------ API and pages

@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path, FixedClock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC)))


def test_api_starts_a_case_with_an_option_and_shows_it(api: Api):
    r = api.post("/api/cases", "clerk", {"number": PASSPORT, "applicant": "ivan",
                                         "channel": "in_person", "option": "accelerated"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["option"] == {"id": "accelerated", "title": "в ускоренном порядке – в течение 15 дней",
                              "term": "15 days"}
    assert body["due_date"] == "2026-03-17" and body["fee"]["base_units"] == 1
    assert body["fee"]["kind"] == "base_units"  # the option's fee, not the procedure's (free)
    again = api.get(f"/api/cases/{body['id']}", "auditor").json()
    assert again["option"]["id"] == "accelerated"
    other = api.post("/api/cases", "clerk", {"number": "2.1", "applicant": "ivan",
                                             "channel": "in_person"}).json()
    assert other["option"] is None


@pytest.mark.parametrize("option", ["overnight", "URGENT"])
def test_api_refuses_an_unknown_option_with_a_problem_naming_it(api: Api, option: str):
    before = api.count(cases)
    r = api.post("/api/cases", "clerk", {"number": PASSPORT, "applicant": "ivan",
                                         "channel": "in_person", "option": option})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "option"
    assert api.count(cases) == before


def test_the_start_page_offers_the_options_and_registers_the_chosen_one(api: Api):
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/new/{PASSPORT}")
    assert page.status_code == 200, page.text
    radios = re.findall(r'<input type="radio" name="option" value="([a-z_]+)"( checked)?', page.text)
    assert radios == [("general", " checked"), ("accelerated", ""), ("urgent", "")]
    assert "в срочном порядке – в течение 7 дней — срок 7 дней, плата: 2 базовые величины" in " ".join(
        page.text.split())
    before = api.count(cases)
    bad = api.client.post(f"/cases/new/{PASSPORT}", data={
        "csrf": csrf_of(page.text), "applicant": "", "channel": "in_person", "option": "overnight"})
    assert bad.status_code == 422
    assert 'id="option-error">Выберите порядок осуществления' in bad.text
    assert 'id="applicant-error">Укажите фамилию' in bad.text  # every error at once
    assert api.count(cases) == before
    sent = api.client.post(f"/cases/new/{PASSPORT}", data={
        "csrf": csrf_of(page.text), "applicant": "Иванов Иван Иванович", "channel": "in_person",
        "option": "urgent"}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    case_id = sent.headers["location"].removeprefix("/cases/")
    case = api.get(f"/api/cases/{case_id}", "auditor").json()
    assert case["option"]["id"] == "urgent" and case["due_date"] == "2026-03-09"
    shown = api.client.get(f"/cases/{case_id}").text
    assert re.search(r'<dd id="case-option">в срочном порядке – в течение 7 дней</dd>', shown)


def test_the_start_page_of_an_unknown_procedure_is_404(api: Api):
    sign_in_client(api, "clerk")
    assert api.client.get("/cases/new/99.99").status_code == 404


def test_the_stand_lists_the_options_with_term_and_fee(api: Api):
    proc = catalog()[PASSPORT]
    data = {**proc.definition, "authorities": [
        {"kind": "local_executive_committee", "title": "исполнительный комитет"}]}
    api.services.versions.publish([build_procedure(data, proc.source)])
    page = api.client.get(f"/stand/minsk-sovetsky/{PASSPORT}")
    assert page.status_code == 200, page.text
    table = re.search(r'<table id="options">(.*?)</table>', page.text, re.S).group(1)
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    assert rows[0] == "Порядок Срок Плата"
    assert rows[1] == "в общем порядке – в течение 1 месяца (если порядок не выбран) 1 месяц бесплатно"
    assert rows[2].startswith("в ускоренном порядке – в течение 15 дней 15 дней 1 базовая величина")
    assert rows[4].startswith("в срочном порядке – в течение 7 дней 7 дней 2 базовые величины")
    [ld] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S)
    offers = [(o["name"], o["description"]) for o in json.loads(ld)["offers"]]
    assert offers == [("в общем порядке – в течение 1 месяца", "бесплатно"),
                      ("в ускоренном порядке – в течение 15 дней", "1 базовая величина"),
                      ("в срочном порядке – в течение 7 дней", "2 базовые величины")]


# ------------------------------------------------------------------------------ migration

def test_a_case_moves_to_a_version_only_if_its_option_is_there_and_no_slower(tmp_path):
    eng = Engine(tmp_path / "okno.db", at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    case_id = eng.start(PASSPORT, option="urgent")
    without = _passport(lambda d: d["options"].pop())
    slower = _passport(lambda d: d["options"][2]["term"].update(max="10 days"))
    faster = _passport(lambda d: d["options"][2]["term"].update(max="5 days"))
    codes = {}
    for name, target in (("without", without), ("slower", slower), ("faster", faster)):
        eng.versions.publish([target])
        verdict = eng.cases.migrate(case_id, target.version, actor="supervisor-1", dry_run=True)
        codes[name] = [r.code for r in verdict.reasons]
    assert codes["without"] == ["option_removed"]
    assert codes["slower"] == ["term_longer"]
    assert codes["faster"] == []
    verdict = eng.cases.migrate(case_id, faster.version, actor="supervisor-1")
    assert verdict.moved
    # The urgent order is now 5 days: 2026-03-02 + 5 days = 2026-03-07, a Saturday; the next
    # working day is Monday 2026-03-09 (8 March is a Sunday): the same day as before.
    assert eng.case(case_id)["due_date"] == date(2026, 3, 9)

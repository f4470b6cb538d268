"""A validity capped by a date a case's form gives, with a computed expiry on the issued result,
and a term counted from a date a form gives (issue 13; docs/authoring.md, "Validity and its
expiry" and "Where the term starts")."""
from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from engine.clock import FixedClock
from engine.definition.build import build_procedure
from engine.definition.procedure import Validity, ValidityUntil
from engine.definition.validity import expiry
from engine.diff.model import BURDEN, NEUTRAL, SIMPLIFICATION
from engine.diff.pairing import diff_catalogs
from engine.read import cabinet, queries
from engine.runtime.forms import example_form
from tests.casework import Engine, catalog
from tests.pages_support import sign_in_client
from tests.test_api_support import Api
from tests.test_catalog import BASE, assert_one_problem, assert_valid

BIRTH = {"id": "birth_date", "title": "Дата рождения", "type": "date", "required": True}


def capped(validity: dict[str, Any] | None = None, counted_from: Any = None) -> dict[str, Any]:
    """BASE with a date field in its intake, and the given validity / term start."""
    data = copy.deepcopy(BASE)
    data["steps"][0].setdefault("fields", []).append(dict(BIRTH))
    if validity is not None:
        data["validity"] = validity
    if counted_from is not None:
        data["term"]["counted_from"] = counted_from
    return data


FIVE_YEARS_TO_14 = {"kind": "duration", "duration": "5 years",
                    "until": {"field": "birth_date", "after": "14 years"}}


# ------------------------------------------------------------------------------ the format

def test_a_duration_capped_by_a_birthday_is_valid():
    proc = assert_valid(capped(FIVE_YEARS_TO_14))
    assert proc.validity.until == ValidityUntil("birth_date", "14 years")


def test_an_until_event_with_a_computed_date_is_valid():
    proc = assert_valid(capped({"kind": "until_event", "event": "до 3 лет",
                                "until": {"field": "birth_date", "after": "3 года",
                                          "title": "день достижения 3 лет"}}))
    assert proc.validity.until.title == "день достижения 3 лет"


def test_a_cap_on_a_field_no_step_has_is_refused():
    validity = {**FIVE_YEARS_TO_14, "until": {"field": "birthday", "after": "14 years"}}
    assert_one_problem(capped(validity), ("validity", "until", "field"),
                       "'birthday' is not a field of any step", "birth_date")


def test_a_cap_on_a_field_that_is_not_a_date_is_refused():
    validity = {**FIVE_YEARS_TO_14, "until": {"field": "reason"}}  # BASE's choice field
    assert_one_problem(capped(validity), ("validity", "until", "field"), "is a choice field")


def test_an_unreadable_cap_offset_lists_the_accepted_forms():
    validity = {**FIVE_YEARS_TO_14, "until": {"field": "birth_date", "after": "until 14"}}
    problem = assert_one_problem(capped(validity), ("validity", "until", "after"), "until 14")
    assert "лет" in problem.message  # the accepted forms, as `okno due` reads them


def test_a_cap_on_an_unlimited_validity_is_refused_by_the_schema():
    assert_one_problem(capped({"kind": "unlimited", "until": {"field": "birth_date"}}),
                       ("validity", "until"), "until")


def test_a_term_counted_from_a_date_field_is_valid():
    proc = assert_valid(capped(counted_from={"field": "birth_date"}))
    assert proc.term.counted_from == "field:birth_date"
    assert proc.term.counted_from_field == "birth_date"


def test_a_term_counted_from_a_field_that_is_not_a_date_is_refused():
    assert_one_problem(capped(counted_from={"field": "reason"}), ("term", "counted_from", "field"),
                       "is a choice field", "birth_date")


# ------------------------------------------------------------------------------ the expiry

@pytest.mark.parametrize("validity, issued, data, expected", [
    # 5 years from 2026-12-05 is 2031-12-05; the 14th birthday (2024-03-10 + 14 y) is 2038: 2031.
    (Validity("duration", "5 years", until=ValidityUntil("birth_date", "14 years")),
     date(2026, 12, 5), {"birth_date": "2024-03-10"}, date(2031, 12, 5)),
    # Born 2015-03-10: the 14th birthday, 2029-03-10, comes before 2031-12-05.
    (Validity("duration", "5 years", until=ValidityUntil("birth_date", "14 years")),
     date(2026, 12, 5), {"birth_date": "2015-03-10"}, date(2029, 3, 10)),
    # Born 29 February: 3 years on is 28 February (that month's last day).
    (Validity("until_event", event="до 3 лет", until=ValidityUntil("birth_date", "3 years")),
     date(2026, 12, 5), {"birth_date": "2024-02-29"}, date(2027, 2, 28)),
    # A duration alone: 6 months from 2026-08-31 is 2027-02-28.
    (Validity("duration", "6 months"), date(2026, 8, 31), {}, date(2027, 2, 28)),
    # The cap's field not filled in: the duration alone.
    (Validity("duration", "5 years", until=ValidityUntil("birth_date", "14 years")),
     date(2026, 12, 5), {}, date(2031, 12, 5)),
    # Nothing to compute.
    (Validity("until_event", event="на срок пребывания"), date(2026, 12, 5), {}, None),
    (Validity("unlimited"), date(2026, 12, 5), {}, None),
    (Validity("lump_sum"), date(2026, 12, 5), {}, None),
])
def test_expiry(validity, issued, data, expected):
    assert expiry(validity, issued, data) == expected


# ------------------------------------------------------------------------------ cases

def _approved(tmp_path, number: str, intake: dict[str, Any], at: datetime,
              applicant_user: str | None = None) -> tuple[Engine, str]:
    """A case of `number` whose intake form is `intake` (other fields: examples), approved."""
    eng = Engine(tmp_path / "okno.db", at=at)
    case_id = eng.start(number, applicant_user=applicant_user)
    [task] = eng.open_tasks(case_id)
    proc = eng.versions.get(eng.case(case_id)["version"])
    eng.present_documents(case_id)
    data = {**example_form(proc.step(task["step"]).fields), **intake}
    eng.cases.complete_task(case_id, task["id"], data, actor="clerk-1")
    eng.run_to_end(case_id)
    return eng, case_id


def _view(eng: Engine, case_id: str) -> dict[str, Any]:
    return queries.case_view(eng.db, case_id, eng.versions, eng.cases.calendar)


DECEMBER_5 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("birth, expected", [
    # Born 2024-03-10, issued 2026-12-05: 5 years → 2031-12-05; 14th birthday 2038-03-10.
    ("2024-03-10", date(2031, 12, 5)),
    # Born 2014-05-20, issued 2026-12-05: the 14th birthday 2028-05-20 comes first.
    ("2014-05-20", date(2028, 5, 20)),
])
def test_a_child_passport_expires_after_5_years_but_not_beyond_the_14th_birthday(
        tmp_path, birth, expected):
    eng, case_id = _approved(tmp_path, "11.2.5", {"birth_date": birth}, DECEMBER_5,
                             applicant_user="citizen-1")
    view = _view(eng, case_id)
    assert view["outcome"] == "approved" and view["valid_until"] == expected
    with eng.db.connect() as conn:
        mine = cabinet.case_of(conn, "citizen-1", case_id, eng.versions, eng.cases.calendar)
    assert mine["valid_until"] == expected


def test_the_child_care_benefit_runs_until_the_third_birthday(tmp_path):
    # Child born 2025-01-15: the benefit runs until 2028-01-15, whatever the day of the decision.
    eng, case_id = _approved(tmp_path, "2.9", {"child_birth_date": "2025-01-15"}, DECEMBER_5)
    assert _view(eng, case_id)["valid_until"] == date(2028, 1, 15)


def test_a_registration_at_the_place_of_stay_lasts_for_the_stay(tmp_path):
    eng, case_id = _approved(tmp_path, "13.2", {"stay_from": "2026-12-05",
                                                "stay_until": "2027-06-30"}, DECEMBER_5)
    assert _view(eng, case_id)["valid_until"] == date(2027, 6, 30)


def test_an_open_or_refused_case_has_no_expiry(tmp_path):
    eng = Engine(tmp_path / "okno.db", at=DECEMBER_5)
    case_id = eng.start("11.2.5")
    assert _view(eng, case_id)["valid_until"] is None
    eng.run_to_end(case_id, outcome="refuse")
    view = _view(eng, case_id)
    assert view["outcome"] == "refused" and view["valid_until"] is None


def test_the_case_page_and_the_cabinet_page_show_the_expiry(tmp_path):
    api = Api(tmp_path, FixedClock(DECEMBER_5))
    started = api.post("/api/cases", "clerk", {"number": "11.2.5", "applicant": "Иванов И. И.",
                                                "channel": "in_person", "applicant_user": "ivan"})
    assert started.status_code == 201, started.text
    case_id = started.json()["id"]
    api.present_documents(case_id, "11.2.5")
    cases_ = api.services.cases
    proc = catalog()["11.2.5"]
    for _ in range(10):
        [task] = api.get(f"/api/cases/{case_id}", "auditor").json()["tasks"] or [None]
        if task is None:
            break
        data = example_form(proc.step(task["step"]).fields)
        data.update({"birth_date": "2014-05-20"} if task["step"] == "intake" else
                    {"outcome": "approve"} if task["step"] == "decision" else {})
        cases_.complete_task(case_id, task["id"], data, actor="clerk")
    body = api.get(f"/api/cases/{case_id}", "auditor").json()
    assert body["outcome"] == "approved" and body["valid_until"] == "2028-05-20"
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert 'id="valid-until">до 20.05.2028' in page.text
    sign_in_client(api, "ivan")  # the applicant, in the cabinet
    mine = api.client.get(f"/cabinet/cases/{case_id}")
    assert mine.status_code == 200, mine.text
    assert 'id="valid-until">до 20.05.2028' in mine.text
    assert api.get(f"/api/me/cases/{case_id}", "ivan").json()["valid_until"] == "2028-05-20"


# ------------------------------------------------------------------------------ term start

def _counted_from_stay() -> dict[str, Any]:
    proc = catalog()["13.2"]
    data = proc.definition
    data["term"]["counted_from"] = {"field": "stay_from"}
    return {**catalog(), "13.2": build_procedure(data, proc.source)}


def test_a_term_counted_from_the_stated_day(tmp_path):
    # Applied on Monday 2026-03-02 for a stay from Tuesday 2026-03-10: 3 working days counted
    # from 10 March are Wed 11, Thu 12, Fri 13 March: due 2026-03-13 (not 2026-03-05).
    eng = Engine(tmp_path / "okno.db", at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
                 procedures=_counted_from_stay())
    case_id = eng.start("13.2")
    assert eng.case(case_id)["due_date"] == date(2026, 3, 5)  # from the application, until told
    [task] = eng.open_tasks(case_id)
    eng.present_documents(case_id)
    proc = eng.versions.get(eng.case(case_id)["version"])
    data = {**example_form(proc.step("intake").fields), "stay_from": "2026-03-10",
            "stay_until": "2026-06-30"}
    eng.cases.complete_task(case_id, task["id"], data, actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2026, 3, 13)
    assert eng.verify(case_id)[1] == []


# ------------------------------------------------------------------------------ the diff

def _changes(old: dict, new: dict) -> list[tuple[str, str]]:
    a, b = assert_valid(old), assert_valid(new)
    return [(c.kind, c.class_) for c in diff_catalogs({"6.1.1": a}, {"6.1.1": b}).changes]


FIVE_YEARS = {"kind": "duration", "duration": "5 years"}


def test_a_new_cap_is_a_burden_and_its_removal_a_simplification():
    assert _changes(capped(FIVE_YEARS), capped(FIVE_YEARS_TO_14)) == [("validity.capped", BURDEN)]
    assert _changes(capped(FIVE_YEARS_TO_14), capped(FIVE_YEARS)) == [
        ("validity.uncapped", SIMPLIFICATION)]


def test_a_later_cap_is_a_simplification_and_an_earlier_one_a_burden():
    later = {**FIVE_YEARS_TO_14, "until": {"field": "birth_date", "after": "16 years"}}
    assert _changes(capped(FIVE_YEARS_TO_14), capped(later)) == [
        ("validity.cap_changed", SIMPLIFICATION)]
    assert _changes(capped(later), capped(FIVE_YEARS_TO_14)) == [("validity.cap_changed", BURDEN)]


def test_counting_from_a_stated_day_is_neutral():
    assert _changes(capped(), capped(counted_from={"field": "birth_date"})) == [
        ("term.counted_from_changed", NEUTRAL)]

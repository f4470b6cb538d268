"""Repeated appeals (engine/appeal_registers/repeats.py): flagged with links to the earlier ones when the
same applicant asks the same authority the same question within three years after a reply."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.appeal_registers import repeats
from tests.appeal_fixture import answer, appeal
from tests.casework import Engine

ROOF = "Прошу отремонтировать крышу дома №5 по ул. Ленина, протекает уже полгода."
ROOF_AGAIN = ("Повторно обращаюсь! Прошу отремонтировать крышу дома 5 по улице Ленина: протекает "
              "уже полгода, ответа по существу не получил.")
PLAYGROUND = "Прошу установить детскую площадку во дворе дома №5 по ул. Ленина."
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db", at=START)


def earlier(eng, case_id):
    with eng.db.connect() as conn:
        return repeats.earlier_appeals(conn, case_id)


def test_a_near_duplicate_after_a_reply_is_flagged_with_a_link_to_the_earlier_appeal(eng):
    first = appeal(eng, ROOF, applicant_user="ivan")
    eng.clock.advance(days=10)
    answer(eng.db, first, at=eng.clock.now())
    eng.clock.advance(days=30)
    other = appeal(eng, PLAYGROUND, applicant_user="ivan")
    again = appeal(eng, ROOF_AGAIN, applicant_user="ivan")
    found = earlier(eng, again)
    assert [e.case_id for e in found] == [first]
    assert found[0].outcome == "explained" and found[0].reg_number.startswith("test-")
    assert found[0].score >= 85
    assert earlier(eng, other) == []  # a different question from the same applicant


def test_only_after_a_reply_within_three_years_at_the_same_authority(eng):
    unanswered = appeal(eng, ROOF, applicant_user="ivan")
    elsewhere = appeal(eng, ROOF, applicant_user="ivan", authority="org-2")
    answer(eng.db, elsewhere, at=eng.clock.now())
    left = appeal(eng, ROOF, applicant_user="ivan")
    answer(eng.db, left, at=eng.clock.now(), outcome="left_without_consideration", ground="abuse")
    old = appeal(eng, ROOF, applicant_user="ivan")
    answer(eng.db, old, at=eng.clock.now())
    eng.clock.advance(days=3 * 365 + 2)  # 4 March 2028: the reply of 3 March 2025 is over 3 years old
    late = appeal(eng, ROOF_AGAIN, applicant_user="ivan")
    assert earlier(eng, late) == []
    assert unanswered  # still open: no reply, never counted
    eng.clock.advance(days=-1)  # 3 March 2028: the last day of the three years
    within = appeal(eng, ROOF_AGAIN, applicant_user="ivan")
    assert [e.case_id for e in earlier(eng, within)] == [old]


def test_the_same_applicant_without_an_account_is_the_same_name_and_e_mail(eng):
    first = appeal(eng, ROOF, applicant="Иванов  Пётр", email="Petr@Example.by")
    answer(eng.db, first, at=eng.clock.now())
    eng.clock.advance(days=1)
    same = appeal(eng, ROOF_AGAIN, applicant="иванов петр", email="Petr@Example.by")
    namesake = appeal(eng, ROOF_AGAIN, applicant="Иванов Пётр", email="other@example.by")
    no_mail = appeal(eng, ROOF_AGAIN, applicant="Иванов Пётр")
    anonymous = appeal(eng, ROOF_AGAIN, applicant="Иванов Пётр", email="Petr@Example.by",
                       anonymous=True)
    assert [e.case_id for e in earlier(eng, same)] == [first]
    assert earlier(eng, namesake) == earlier(eng, no_mail) == earlier(eng, anonymous) == []


def test_an_account_is_matched_by_the_account_not_by_the_name(eng):
    first = appeal(eng, ROOF, applicant="Иванов Иван", applicant_user="ivan")
    answer(eng.db, first, at=eng.clock.now())
    eng.clock.advance(days=1)
    other_account = appeal(eng, ROOF, applicant="Иванов Иван", applicant_user="ivan2")
    assert earlier(eng, other_account) == []
    assert earlier(eng, "no-such-case") == []
    procedure_case = eng.start("2.1", applicant_user="ivan")
    assert earlier(eng, procedure_case) == []


def test_the_comparison_is_bounded_to_the_newest_replies(eng, monkeypatch):
    old = appeal(eng, ROOF, applicant_user="ivan")
    answer(eng.db, old, at=eng.clock.now())
    for i in range(3):
        eng.clock.advance(days=1)
        answer(eng.db, appeal(eng, f"Вопрос номер {i} о другом совсем деле", applicant_user="ivan"),
               at=eng.clock.now())
    eng.clock.advance(days=1)
    again = appeal(eng, ROOF_AGAIN, applicant_user="ivan")
    assert [e.case_id for e in earlier(eng, again)] == [old]
    monkeypatch.setattr(repeats, "MAX_EARLIER", 3)
    assert earlier(eng, again) == []  # the old reply is the fourth newest: not compared


def test_years_before_a_leap_day():
    assert repeats.years_before(datetime(2028, 2, 29, tzinfo=UTC), 3) == datetime(2025, 2, 28, tzinfo=UTC)


def test_repeated_among_a_work_list_page(eng):
    first = appeal(eng, ROOF, applicant_user="ivan")
    answer(eng.db, first, at=eng.clock.now())
    eng.clock.advance(days=1)
    again, other = appeal(eng, ROOF_AGAIN, applicant_user="ivan"), appeal(eng, PLAYGROUND, applicant_user="ivan")
    procedure_case = eng.start("2.1", applicant_user="ivan")
    with eng.db.connect() as conn:
        assert repeats.repeated_among(conn, [again, other, procedure_case, first, again]) == {again}
        assert repeats.repeated_among(conn, []) == set()

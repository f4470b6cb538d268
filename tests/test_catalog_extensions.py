"""Catalog rows whose several terms depend on what the body finds (5.14), run as term extensions on
real cases: a real SQLite file, the shipped catalog, the Belarusian working-day calendar."""
from __future__ import annotations

from datetime import date

import pytest

from engine.errors import NotAllowed
from tests.casework import Engine


@pytest.fixture
def eng(tmp_path) -> Engine:
    return Engine(tmp_path / "okno.db")  # the clock stands at Wednesday 18.06.2025


def test_5_14_record_found_is_three_days(eng):
    case_id = eng.start("5.14")
    # 18.06 + 3 days = Saturday 21.06.2025, a day off -> Monday 23.06.2025
    assert eng.case(case_id)["due_date"] == date(2025, 6, 23)


def test_5_14_special_check_is_fifteen_days(eng):
    case_id = eng.start("5.14")
    eng.cases.extend(case_id, "special_check", actor="clerk-1")
    # 18.06 + 15 days = Thursday 03.07.2025, Independence Day; Friday 04.07 is the day off moved
    # from Saturday 12.07 (resolution No. 839); 05.07 and 06.07 are the weekend -> Monday 07.07
    assert eng.case(case_id)["due_date"] == date(2025, 7, 7)
    eng.cases.extend(case_id, "no_record_after_check", actor="clerk-1")
    # 18.06 + 1 month = Friday 18.07.2025, a working day
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)
    assert eng.verify() == (1, [])


def test_5_14_no_record_is_one_month_and_applies_once(eng):
    case_id = eng.start("5.14")
    eng.cases.extend(case_id, "no_record", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)  # 18.06 + 1 month, a Friday
    with pytest.raises(NotAllowed, match="extended by 'no_record' already"):
        eng.cases.extend(case_id, "special_check", actor="clerk-1")
    with pytest.raises(NotAllowed, match="needs 'special_check' first"):
        eng.cases.extend(case_id, "no_record_after_check", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)  # refused extensions change nothing

"""The terms of Law No. 300-З as the appeal definition and the engine count them, on real cases.

Each case is registered on a chosen day (the engine's clock) and the due dates, the notices'
`due_by` and the extended terms are read back from the stored rows. The expected date of every
case is worked out in its comment: terms count from the day after registration; N days end on
registration + N; a month ends on the same date of the next month or that month's last day; a
last day that is not a working day moves to the next working day (public holidays, the Council
of Ministers' transferred days off, and worked Saturdays count as working days); notices due
"within 5 working days" are due on the 5th working day after registration.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from engine.store.tables import notices
from engine.terms import default_calendar, due_date
from tests.casework import Engine

APPEAL = {"kind": "complaint", "topic": "housing", "question": "Не вывозят мусор во дворе."}
NAMES = {"org-1": "Администрация 1", "org-2": "Администрация 2"}


def engine_on(tmp_path, day: date) -> Engine:
    """An engine whose clock stands at 09:00 Minsk time (06:00 UTC) on `day`."""
    eng = Engine(tmp_path / "okno.db", at=datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC))
    eng.cases.authorities = lambda: NAMES
    return eng


def register(eng: Engine, **data) -> str:
    return eng.start("appeal", channel="written", data={**APPEAL, **data})


def notice_due(eng: Engine, case_id: str, kind: str) -> date:
    with eng.db.connect() as conn:
        return conn.execute(select(notices.c.due_by).where(
            notices.c.case_id == case_id, notices.c.kind == kind)).scalar_one()


# (registration day, due date of the 15-day term, how it is worked out)
FIFTEEN_DAYS = [
    # 06.04.2026 (Mon) + 15 = 21.04.2026, Radunitsa (Tuesday of the 9th day after Easter on
    # 12.04.2026): a holiday -> Wednesday 22.04.2026.
    (date(2026, 4, 6), date(2026, 4, 22)),
    # 05.04.2026 (Sun, registered on the day of receipt) + 15 = 20.04.2026, a day off transferred
    # to Saturday 25.04.2026 -> 21.04 is Radunitsa -> 22.04.2026.
    (date(2026, 4, 5), date(2026, 4, 22)),
    # 10.04.2026 + 15 = 25.04.2026, a Saturday made a working day (resolution No. 397): it stays.
    (date(2026, 4, 10), date(2026, 4, 25)),
    # 11.04.2025 + 15 = 26.04.2025, a worked Saturday (resolution No. 839): it stays.
    (date(2025, 4, 11), date(2025, 4, 26)),
    # 18.06.2025 + 15 = 03.07.2025, Independence Day -> 04.07.2025 transferred day off (worked on
    # 12.07) -> 05.07 Sat, 06.07 Sun -> Monday 07.07.2025.
    (date(2025, 6, 18), date(2025, 7, 7)),
    # 27.06.2025 + 15 = 12.07.2025, the Saturday worked for 4 July: it stays.
    (date(2025, 6, 27), date(2025, 7, 12)),
    # 24.04.2025 + 15 = 09.05.2025 (Fri), Victory Day -> Sat, Sun -> Monday 12.05.2025.
    (date(2025, 4, 24), date(2025, 5, 12)),
    # 23.10.2025 + 15 = 07.11.2025 (Fri), October Revolution Day -> Monday 10.11.2025.
    (date(2025, 10, 23), date(2025, 11, 10)),
    # 23.12.2025 + 15 = 07.01.2026 (Wed), Orthodox Christmas -> Thursday 08.01.2026.
    (date(2025, 12, 23), date(2026, 1, 8)),
    # 10.12.2025 + 15 = 25.12.2025 (Thu), Catholic Christmas; 26.12.2025 was a day off transferred
    # to Saturday 20.12 -> 27 Sat, 28 Sun -> Monday 29.12.2025.
    (date(2025, 12, 10), date(2025, 12, 29)),
]


@pytest.mark.parametrize(("registered", "due"), FIFTEEN_DAYS, ids=[str(r) for r, _ in FIFTEEN_DAYS])
def test_an_appeal_is_due_15_days_after_the_day_after_registration(tmp_path, registered, due):
    eng = engine_on(tmp_path, registered)
    case = eng.case(register(eng))
    assert (case["start_date"], case["due_date"]) == (registered, due)
    assert due_date(registered, "15 days", default_calendar()) == due  # the calendar agrees


# (registration day, due date after the extension for extra study: 1 month)
ONE_MONTH = [
    # 31.01.2026 + 1 month: 31.02 does not exist -> 28.02.2026, a Saturday -> Sunday 01.03 ->
    # Monday 02.03.2026.
    (date(2026, 1, 31), date(2026, 3, 2)),
    # 31.01.2024 + 1 month -> 29.02.2024 (a leap year; Thursday, a working day).
    (date(2024, 1, 31), date(2024, 2, 29)),
    # 31.01.2025 + 1 month -> 28.02.2025 (Friday).
    (date(2025, 1, 31), date(2025, 2, 28)),
    # 30.03.2025 + 1 month -> 30.04.2025 (Wednesday: 28 and 29 April were the days off).
    (date(2025, 3, 30), date(2025, 4, 30)),
    # 09.04.2025 + 1 month -> 09.05.2025, Victory Day (Fri) -> Monday 12.05.2025.
    (date(2025, 4, 9), date(2025, 5, 12)),
    # 31.08.2025 + 1 month -> 30.09.2025 (the month's last day; Tuesday).
    (date(2025, 8, 31), date(2025, 9, 30)),
]


@pytest.mark.parametrize(("registered", "due"), ONE_MONTH, ids=[str(r) for r, _ in ONE_MONTH])
def test_extra_study_extends_the_term_to_one_month(tmp_path, registered, due):
    eng = engine_on(tmp_path, registered)
    case_id = register(eng)
    eng.cases.extend(case_id, "extra_study", actor="clerk-1")
    case = eng.case(case_id)
    assert (case["due_date"], case["extension"]) == (due, "extra_study")


def test_more_than_a_month_notifies_the_applicant_within_the_month(tmp_path):
    # Registered 18.06.2025: 1 month -> 18.07.2025 (Fri); the definition's term beyond a month is
    # 2 months -> 18.08.2025 (Mon). The notice is due by the end of the month in force: 18.07.2025.
    eng = engine_on(tmp_path, date(2025, 6, 18))
    case_id = register(eng, email="ivanov@example.by")
    eng.cases.extend(case_id, "extra_study", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)
    eng.cases.extend(case_id, "beyond_month", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 8, 18)
    assert notice_due(eng, case_id, "more_than_month") == date(2025, 7, 18)


# (registration day, the 5th working day after it: when forwarding and leaving notices are due)
FIVE_WORKING_DAYS = [
    # 24.04.2025 (Thu): 25 Fri (1), 26 Sat worked (2), 27 Sun, 28 Mon transferred day off,
    # 29 Tue Radunitsa, 30 Wed (3), 1 May holiday, 2 Fri (4), 3-4 weekend, 5 May Mon (5).
    (date(2025, 4, 24), date(2025, 5, 5)),
    # 17.04.2026 (Fri): 18-19 weekend, 20 Mon transferred day off, 21 Tue Radunitsa, 22 Wed (1),
    # 23 Thu (2), 24 Fri (3), 25 Sat worked (4), 26 Sun, 27 Mon (5).
    (date(2026, 4, 17), date(2026, 4, 27)),
    # 31.12.2025 (Wed): 1-2 January holidays, 3-4 weekend, 5 Mon (1), 6 Tue (2), 7 Wed Christmas,
    # 8 Thu (3), 9 Fri (4), 10-11 weekend, 12 Mon (5).
    (date(2025, 12, 31), date(2026, 1, 12)),
    # 30.06.2025 (Mon): 1 Tue (1), 2 Wed (2), 3 Thu holiday, 4 Fri transferred day off,
    # 5-6 weekend, 7 Mon (3), 8 Tue (4), 9 Wed (5).
    (date(2025, 6, 30), date(2025, 7, 9)),
]


@pytest.mark.parametrize(("registered", "due_by"), FIVE_WORKING_DAYS,
                         ids=[str(r) for r, _ in FIVE_WORKING_DAYS])
def test_leaving_without_consideration_is_notified_within_5_working_days(tmp_path, registered, due_by):
    eng = engine_on(tmp_path, registered)
    case_id = register(eng)
    eng.cases.leave(case_id, "form_defects", actor="clerk-1")
    assert notice_due(eng, case_id, "left_without_consideration") == due_by


@pytest.mark.parametrize(("registered", "due_by"), FIVE_WORKING_DAYS[:2],
                         ids=[str(r) for r, _ in FIVE_WORKING_DAYS[:2]])
def test_forwarding_is_notified_within_5_working_days_of_registration(tmp_path, registered, due_by):
    eng = engine_on(tmp_path, registered)
    case_id = register(eng)
    eng.clock.advance(days=1)  # forwarded the next day: the notice is still due from registration
    eng.cases.forward(case_id, "org-2", actor="clerk-1")
    assert notice_due(eng, case_id, "forwarded") == due_by


def test_forwarding_restarts_the_term_at_the_competent_authority(tmp_path):
    # Registered 18.06.2025 (due 07.07.2025), forwarded on Friday 20.06.2025: the competent body
    # receives it that day; 20.06 + 15 = 05.07.2025 (Sat) -> 06 Sun -> Monday 07.07.2025. Forwarded
    # on Monday 23.06.2025 instead: 23.06 + 15 = 08.07.2025 (Tue).
    eng = engine_on(tmp_path, date(2025, 6, 18))
    first, second = register(eng), register(eng)
    eng.cases.extend(first, "extra_study", actor="clerk-1")
    eng.clock.advance(days=2)
    eng.cases.forward(first, "org-2", actor="clerk-1")
    row = eng.case(first)
    assert (row["authority"], row["forwarded_from"], row["forwarded_on"]) == (
        "org-2", "org-1", date(2025, 6, 20))
    assert (row["due_date"], row["extension"]) == (date(2025, 7, 7), None)  # the term begins again
    assert [t["authority"] for t in eng.open_tasks(first)] == ["org-2"]
    eng.clock.advance(days=3)
    eng.cases.forward(second, "org-2", actor="clerk-1")
    assert eng.case(second)["due_date"] == date(2025, 7, 8)
    # extended at the competent authority: 1 month from the day it received it, 20.06 -> 21.07
    # (20.07.2025 is a Sunday).
    eng.cases.extend(first, "extra_study", actor="clerk-1")
    assert eng.case(first)["due_date"] == date(2025, 7, 21)

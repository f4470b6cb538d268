"""engine.terms: the real Belarusian calendar (holidays package + override file), no mocks."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from engine.terms import (
    DEFAULT_OVERRIDES_PATH,
    CalendarError,
    Term,
    TermError,
    WorkCalendar,
    add_months,
    default_calendar,
    due_date,
    extend_due,
    longest_term,
    parse_term,
    shift_by_pause,
)

D = date.fromisoformat


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    """The shipped calendar (empty override lists), independent of the environment."""
    return WorkCalendar(overrides_path=DEFAULT_OVERRIDES_PATH)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- calendar

class TestWorkCalendar:
    @pytest.mark.parametrize("day", [
        "2025-01-01", "2025-01-02", "2025-01-07", "2025-03-08", "2025-04-29",  # Radunitsa 2025
        "2025-05-01", "2025-05-09", "2025-07-03", "2025-11-07", "2025-12-25",
        "2025-01-06", "2025-04-28", "2025-07-04", "2025-12-26",  # transferred days off 2025
        "2026-04-20", "2026-04-21",  # 2026 transfer, Radunitsa 2026
        "2025-06-21", "2025-06-22",  # ordinary weekend
    ])
    def test_non_working_days(self, cal: WorkCalendar, day: str) -> None:
        assert not cal.is_working_day(D(day))

    @pytest.mark.parametrize("day", [
        "2025-01-11", "2025-04-26", "2025-07-12", "2025-12-20",  # worked Saturdays 2025
        "2026-04-25",  # worked Saturday 2026
        "2025-06-18", "2025-01-03", "2025-01-08",
    ])
    def test_working_days(self, cal: WorkCalendar, day: str) -> None:
        assert cal.is_working_day(D(day))

    def test_holiday_on_day_off_is_not_moved(self, cal: WorkCalendar) -> None:
        # 8 March 2025 is a Saturday: the Monday after stays a working day.
        assert not cal.is_working_day(D("2025-03-08"))
        assert cal.is_working_day(D("2025-03-10"))

    def test_next_working_day(self, cal: WorkCalendar) -> None:
        assert cal.next_working_day(D("2025-07-03")) == D("2025-07-07")
        assert cal.next_working_day(D("2025-06-18")) == D("2025-06-18")

    def test_working_days_between(self, cal: WorkCalendar) -> None:
        # (24 Apr, 5 May]: 25, 26 (Sat, worked), 30 Apr, 2 May, 5 May
        assert cal.working_days_between(D("2025-04-24"), D("2025-05-05")) == 5

    def test_every_supported_year_is_consistent(self, cal: WorkCalendar) -> None:
        for year in cal.supported_years:
            # 1 January is a holiday every year; Dec 31 -> 1 working day lands in January.
            assert not cal.is_working_day(date(year, 1, 1))
            if year + 1 in cal.supported_years:
                nxt = cal.add_working_days(date(year, 12, 31), 1)
                assert nxt.year == year + 1 and cal.is_working_day(nxt)
            assert not cal.is_working_day(date(year, 5, 1))
        assert cal.supported_years.start <= 1998 and cal.supported_years.stop - 1 >= 2026

    def test_years_outside_range_fail_clearly(self, cal: WorkCalendar) -> None:
        first, last = cal.supported_years.start, cal.supported_years.stop - 1
        for year in (first - 1, last + 1):
            with pytest.raises(CalendarError, match=rf"year {year} is outside the supported"):
                cal.is_working_day(date(year, 6, 1))
        # crossing the upper edge while counting fails the same way
        with pytest.raises(CalendarError):
            due_date(date(last, 12, 20), "30 days", cal)

    def test_last_supported_year_boundary(self, cal: WorkCalendar) -> None:
        last = cal.supported_years.stop - 1
        assert cal.is_working_day(date(last, 12, 31)) in (True, False)

    def test_is_working_day_is_fast(self, cal: WorkCalendar) -> None:
        import time
        day = D("2025-05-05")
        cal.is_working_day(day)
        t0 = time.perf_counter()
        for _ in range(100_000):
            cal.is_working_day(day)
        assert time.perf_counter() - t0 < 1.0  # ~0.2 µs per call on a laptop

    def test_default_file_ships_empty(self) -> None:
        cal = WorkCalendar(overrides_path=DEFAULT_OVERRIDES_PATH)
        assert cal.overrides == {"non_working": {}, "working": {}}


class TestOverrides:
    def test_adds_non_working_day_and_working_saturday(self, tmp_path: Path) -> None:
        path = write(tmp_path, """
non_working:
  - date: 2025-06-20
    note: test day off (Friday)
working:
  - date: 2025-06-28
    note: test worked Saturday
  - "2025-06-29"
""")
        cal = WorkCalendar(overrides_path=path)
        assert not cal.is_working_day(D("2025-06-20"))
        assert cal.is_working_day(D("2025-06-28"))
        assert cal.is_working_day(D("2025-06-29"))
        assert cal.overrides["non_working"] == {D("2025-06-20"): "test day off (Friday)"}
        # the day off pushes working-day counts, the worked Saturday pulls them in
        assert due_date(D("2025-06-18"), "2 working days", cal) == D("2025-06-23")
        assert due_date(D("2025-06-26"), "2 working days", cal) == D("2025-06-28")
        # a calendar term ending on the extra day off moves on; on the worked Saturday it stays
        assert due_date(D("2025-06-10"), "10 days", cal) == D("2025-06-23")
        assert due_date(D("2025-06-18"), "10 days", cal) == D("2025-06-28")

    def test_override_can_cancel_package_holiday(self, tmp_path: Path) -> None:
        cal = WorkCalendar(overrides_path=write(tmp_path, "working: [2025-07-04]\n"))
        assert cal.is_working_day(D("2025-07-04"))
        assert due_date(D("2025-06-18"), "15 days", cal) == D("2025-07-04")

    def test_the_entry_point_names_the_file_not_the_environment(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        path = write(tmp_path, "non_working: [2025-06-18]\n")
        monkeypatch.setenv("OKNO_CALENDAR_OVERRIDES", str(path))  # read by entry points only
        assert WorkCalendar().overrides_path == DEFAULT_OVERRIDES_PATH
        assert default_calendar().overrides_path == DEFAULT_OVERRIDES_PATH
        assert due_date(D("2025-06-17"), "1 day") == D("2025-06-18")
        assert default_calendar(path).overrides_path == path
        assert default_calendar(path) is default_calendar(str(path))  # built once per path
        assert not default_calendar(path).is_working_day(D("2025-06-18"))
        assert due_date(D("2025-06-17"), "1 day", default_calendar(path)) == D("2025-06-19")

    def test_empty_file_is_fine(self, tmp_path: Path) -> None:
        assert WorkCalendar(overrides_path=write(tmp_path, "# nothing yet\n")).is_working_day(
            D("2025-06-18"))

    @pytest.mark.parametrize("text, message", [
        ("non_working: [2025-02-30]\n", "not an ISO date"),
        ("non_working: [tomorrow]\n", "not an ISO date"),
        ("holidays: []\n", "unknown keys"),
        ("working: 2025-06-28\n", "must be a list"),
        ("- 2025-06-28\n", "expected a mapping"),
        ("working: [{when: 2025-06-28}]\n", "unknown keys"),
        ("working: [{note: x}]\n", "has no 'date'"),
        ("working: [2025-06-28]\nnon_working: [2025-06-28]\n", "both non_working and working"),
        ("working: [2025-06-28\n", "invalid YAML"),
    ])
    def test_bad_files_raise(self, tmp_path: Path, text: str, message: str) -> None:
        with pytest.raises(CalendarError, match=message) as err:
            WorkCalendar(overrides_path=write(tmp_path, text))
        assert "overrides.yaml" in str(err.value)

    def test_missing_file_raises(self, tmp_path: Path) -> None:
        with pytest.raises(CalendarError, match="cannot read"):
            WorkCalendar(overrides_path=tmp_path / "absent.yaml")


# ---------------------------------------------------------------------------------- terms

class TestParseTerm:
    @pytest.mark.parametrize("text, unit, value", [
        ("same day", "same_day", 0),
        ("Same Day", "same_day", 0),
        ("15 days", "calendar_days", 15),
        ("1 day", "calendar_days", 1),
        ("15 calendar days", "calendar_days", 15),
        ("5 working days", "working_days", 5),
        ("1 working day", "working_days", 1),
        ("3 business days", "working_days", 3),
        ("1 month", "months", 1),
        ("2 months", "months", 2),
        ("  2   months ", "months", 2),
        ("1 year", "months", 12),
        ("2 weeks", "calendar_days", 14),
        ("P15D", "calendar_days", 15),
        ("P1M", "months", 1),
        ("P2M", "months", 2),
        ("P0D", "same_day", 0),
        ("P2W", "calendar_days", 14),
        ("P1Y", "months", 12),
        ("p15d", "calendar_days", 15),
        ("0 days", "same_day", 0),
        ("15 дней", "calendar_days", 15),
        ("1 день", "calendar_days", 1),
        ("2 дня", "calendar_days", 2),
        ("15 календарных дней", "calendar_days", 15),
        ("5 рабочих дней", "working_days", 5),
        ("1 рабочий день", "working_days", 1),
        ("3 рабочих дня", "working_days", 3),
        ("1 месяц", "months", 1),
        ("2 месяца", "months", 2),
        ("6 месяцев", "months", 6),
        ("14 дней", "calendar_days", 14),
        ("в день обращения", "same_day", 0),
        ("В день обращения", "same_day", 0),
    ])
    def test_accepts(self, text: str, unit: str, value: int) -> None:
        assert parse_term(text) == Term(unit, value)  # type: ignore[arg-type]

    @pytest.mark.parametrize("text", [
        "", "   ", "days", "15", "fifteen days", "-5 days", "1.5 months", "15 dayz",
        "5 working months", "2 calendar months", "P", "P1M15D", "PT5H", "P-1D",
        "15 days, and if documents are requested - 1 month", "5 рабочих месяцев",
    ])
    def test_rejects_with_message_naming_text(self, text: str) -> None:
        with pytest.raises(TermError) as err:
            parse_term(text)
        assert repr(text) in str(err.value) or text.strip() == ""
        assert isinstance(err.value, ValueError)

    def test_rejects_non_string(self) -> None:
        with pytest.raises(TermError, match="must be a string"):
            parse_term(15)  # type: ignore[arg-type]

    @pytest.mark.parametrize("text, canonical", [
        ("same day", "same day"), ("P0D", "same day"), ("15 days", "15 days"),
        ("1 day", "1 day"), ("15 calendar days", "15 days"), ("5 working days", "5 working days"),
        ("1 working day", "1 working day"), ("1 month", "1 month"), ("P2M", "2 months"),
        ("P2W", "14 days"), ("5 рабочих дней", "5 working days"),
    ])
    def test_str_is_canonical_and_round_trips(self, text: str, canonical: str) -> None:
        term = parse_term(text)
        assert str(term) == canonical
        assert parse_term(str(term)) == term

    def test_to_iso(self) -> None:
        assert parse_term("15 days").to_iso() == "P15D"
        assert parse_term("1 month").to_iso() == "P1M"
        assert parse_term("same day").to_iso() == "P0D"
        assert parse_term("5 working days").to_iso() is None

    def test_term_validation(self) -> None:
        with pytest.raises(TermError):
            Term("weeks", 1)  # type: ignore[arg-type]
        with pytest.raises(TermError):
            Term("same_day", 1)
        with pytest.raises(TermError):
            Term("calendar_days", 0)
        with pytest.raises(TermError):
            Term("months", True)  # bool is not a count
        with pytest.raises(AttributeError):
            parse_term("15 days").value = 3  # type: ignore[misc]  # frozen

    def test_approx_days_and_ordering(self) -> None:
        assert parse_term("same day").approx_days == 0
        assert parse_term("15 days").approx_days == 15
        assert parse_term("5 working days").approx_days == 7
        assert parse_term("1 month").approx_days == 30.4375
        terms = [parse_term(t) for t in ("1 month", "same day", "15 days", "5 working days")]
        assert [str(t) for t in sorted(terms, key=lambda t: t.sort_key)] == [
            "same day", "5 working days", "15 days", "1 month"]
        assert longest_term("15 days", "1 month", "10 working days") == Term("months", 1)
        with pytest.raises(TermError):
            longest_term()


# ---------------------------------------------------------------------------------- due dates

class TestDueDate:
    @pytest.mark.parametrize("start, term, expected", [
        # legal worked example: 15th day is 3 July 2025 (holiday), 4 July transferred day off,
        # 5-6 July weekend -> Monday 7 July
        ("2025-06-18", "15 days", "2025-07-07"),
        # 25 Apr, 26 Apr (worked Saturday), [28 Apr off, 29 Apr Radunitsa], 30 Apr, [1 May],
        # 2 May, 5 May
        ("2025-04-24", "5 working days", "2025-05-05"),
        # months: same date, or the month's last day if it does not exist
        ("2025-01-31", "1 month", "2025-02-28"),
        ("2024-01-31", "1 month", "2024-02-29"),
        ("2025-03-31", "1 month", "2025-04-30"),
        ("2025-05-15", "1 month", "2025-06-16"),  # 15 June 2025 is a Sunday -> Monday
        ("2025-06-18", "1 month", "2025-07-18"),
        ("2025-11-30", "2 months", "2026-01-30"),
        # a last day on a weekend moves to Monday
        ("2025-06-06", "15 days", "2025-06-23"),  # 21 June is a Saturday
        ("2025-06-07", "1 day", "2025-06-09"),  # Sunday 8 June -> Monday 9 June
        # 1 May, Radunitsa 2025, 7 January
        ("2025-04-16", "15 days", "2025-05-02"),  # 1 May (Thursday) -> 2 May
        ("2025-04-14", "15 days", "2025-04-30"),  # 29 Apr Radunitsa -> 30 Apr
        ("2025-04-24", "4 days", "2025-04-30"),  # 28 Apr transferred day off, 29 Radunitsa
        ("2025-04-24", "2 days", "2025-04-26"),  # Saturday 26 April is worked: stays
        ("2024-12-23", "15 days", "2025-01-08"),  # 7 Jan 2025 -> 8 Jan (also crosses New Year)
        ("2025-01-05", "2 working days", "2025-01-09"),  # 6 Jan transferred, 7 Jan holiday
        # New Year boundary
        ("2025-12-17", "15 days", "2026-01-05"),  # 1 Jan holiday, 2 Jan holiday, 3-4 weekend
        # 25 Dec holiday, 26 Dec transferred day off (20 Dec worked), 27-28 Dec weekend
        ("2025-12-24", "3 working days", "2025-12-31"),
        ("2025-12-30", "1 working day", "2025-12-31"),
        ("2025-12-31", "1 working day", "2026-01-05"),
        ("2025-12-01", "1 month", "2026-01-05"),  # 1 January -> first working day 5 January
        # same day: the start itself; an application made on a non-working day (through the
        # portal) is due on the next working day, like any term ending on a non-working day
        ("2025-06-18", "same day", "2025-06-18"),
        ("2025-07-03", "same day", "2025-07-07"),  # holiday, transferred day off, weekend
        ("2025-07-03", "P0D", "2025-07-07"),
        ("2025-06-22", "same day", "2025-06-23"),  # a Sunday
        # ISO forms
        ("2025-06-18", "P15D", "2025-07-07"),
        ("2025-06-18", "P2W", "2025-07-02"),
        ("2025-01-31", "P1M", "2025-02-28"),
    ])
    def test_legal_examples(self, cal: WorkCalendar, start: str, term: str, expected: str) -> None:
        assert due_date(D(start), term, cal) == D(expected)

    def test_accepts_term_objects_and_default_calendar(self) -> None:
        assert due_date(D("2025-06-18"), Term("calendar_days", 15)) == D("2025-07-07")

    def test_working_day_result_is_always_a_working_day(self, cal: WorkCalendar) -> None:
        start = D("2024-12-01")
        for i in range(500):
            day = start + timedelta(days=i)
            for term in ("1 working day", "5 working days", "15 days", "1 month"):
                assert cal.is_working_day(due_date(day, term, cal)), (day, term)

    def test_calendar_term_never_before_start_plus_n(self, cal: WorkCalendar) -> None:
        start = D("2025-01-01")
        for i in range(365):
            day = start + timedelta(days=i)
            assert due_date(day, "15 days", cal) >= day + timedelta(days=15)

    def test_bad_term_raises(self, cal: WorkCalendar) -> None:
        with pytest.raises(TermError, match="'fortnight'"):
            due_date(D("2025-06-18"), "fortnight", cal)

    def test_overflow_raises_term_error(self, cal: WorkCalendar) -> None:
        with pytest.raises(TermError):
            due_date(D("9999-12-01"), "2 months", cal)
        with pytest.raises(TermError):
            due_date(D("9999-12-31"), "5 days", cal)


class TestAddMonths:
    @pytest.mark.parametrize("start, n, expected", [
        ("2025-01-31", 1, "2025-02-28"), ("2024-01-31", 1, "2024-02-29"),
        ("2025-01-31", 2, "2025-03-31"), ("2025-08-31", 1, "2025-09-30"),
        ("2025-12-15", 1, "2026-01-15"), ("2025-11-30", 3, "2026-02-28"),
        ("2024-02-29", 12, "2025-02-28"), ("2025-06-18", 0, "2025-06-18"),
    ])
    def test_clamps_to_month_end(self, start: str, n: int, expected: str) -> None:
        assert add_months(D(start), n) == D(expected)


class TestExtendAndPause:
    def test_extend_due_uses_longer_term(self, cal: WorkCalendar) -> None:
        # 15 days, and if documents are requested from other bodies - 1 month
        assert extend_due(D("2025-06-18"), "15 days", "1 month", cal) == D("2025-07-18")
        assert extend_due(D("2025-06-18"), "15 days", "P1M", cal) == due_date(
            D("2025-06-18"), "1 month", cal)

    def test_extend_due_never_shortens(self, cal: WorkCalendar) -> None:
        assert extend_due(D("2025-06-18"), "1 month", "15 days", cal) == D("2025-07-18")

    def test_shift_by_pause_counts_calendar_days(self, cal: WorkCalendar) -> None:
        # suspended on 20 June, resumed on 25 June: 20..24 June = 5 days.
        # 30 Jun + 5 = 5 Jul (Saturday) -> Monday 7 Jul
        assert shift_by_pause(D("2025-06-30"), D("2025-06-20"), D("2025-06-25"), cal) \
            == D("2025-07-07")
        # 23 Jun + 5 = 28 Jun (Saturday) -> Monday 30 Jun
        assert shift_by_pause(D("2025-06-23"), D("2025-06-20"), D("2025-06-25"), cal) \
            == D("2025-06-30")

    def test_shift_by_pause_lands_off_non_working_day(self, cal: WorkCalendar) -> None:
        # due 1 July + 2 days = 3 July (holiday), 4 July transferred, weekend -> 7 July
        assert shift_by_pause(D("2025-07-01"), D("2025-06-10"), D("2025-06-12"), cal) \
            == D("2025-07-07")

    @pytest.mark.parametrize("due", ["2025-06-27", "2025-07-02", "2025-07-07"])
    def test_shift_by_zero_pause(self, cal: WorkCalendar, due: str) -> None:
        # A pause resumed on the day it began shifts nothing, where one day more would: from
        # Friday 27 June to Monday 30 June, from 2 July over the 3-6 July holidays to 7 July.
        assert shift_by_pause(D(due), D("2025-06-10"), D("2025-06-10"), cal) == D(due)
        assert shift_by_pause(D(due), D("2025-06-10"), D("2025-06-11"), cal) \
            == {"2025-06-27": D("2025-06-30"), "2025-07-02": D("2025-07-07"),
                "2025-07-07": D("2025-07-08")}[due]

    def test_shift_by_pause_uses_default_calendar(self) -> None:
        assert shift_by_pause(D("2025-06-30"), D("2025-06-20"), D("2025-06-25")) == D("2025-07-07")

    def test_resume_before_pause_raises(self, cal: WorkCalendar) -> None:
        with pytest.raises(TermError, match="before it began"):
            shift_by_pause(D("2025-07-07"), D("2025-06-10"), D("2025-06-09"), cal)

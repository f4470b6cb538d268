"""The calendar says what it does not know (issue 13): a year whose working-day transfers are not
decided yet makes a term counted through it provisional — `okno due` warns on stderr and exits 0,
a case shows its due date as provisional — until the override file decides the year.
`okno calendar YEAR` prints the year's non-working weekdays and worked weekend days."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.read.queries import case_view
from engine.terms import DEFAULT_OVERRIDES_PATH, CalendarError, WorkCalendar, due_date
from tests.casework import Engine

runner = CliRunner()
SHIPPED = WorkCalendar(DEFAULT_OVERRIDES_PATH)
# The first year the installed `holidays` package lists no transfers for (2027 with the locked
# version): computed, so that a newer package in the lock moves the tests along with it.
UNKNOWN = SHIPPED.transfers_known_through + 1
KNOWN = SHIPPED.transfers_known_through


@pytest.fixture(autouse=True)
def shipped_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKNO_CALENDAR_OVERRIDES", str(DEFAULT_OVERRIDES_PATH))


def decided(tmp_path: Path, text: str) -> WorkCalendar:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return WorkCalendar(path)


def test_the_years_the_package_lists_transfers_for_are_known_and_the_next_is_not() -> None:
    assert KNOWN >= 2026  # the package lists 2026's transfer (20 April <- 25 April)
    assert SHIPPED.is_known_year(2025) and SHIPPED.is_known_year(KNOWN)
    assert not SHIPPED.is_known_year(UNKNOWN)
    assert SHIPPED.unknown_years(date(KNOWN, 12, 20), date(UNKNOWN, 1, 20)) == (UNKNOWN,)
    assert SHIPPED.unknown_years(date(2025, 1, 1), date(KNOWN, 12, 31)) == ()


def test_a_year_the_override_file_decides_is_known_and_its_transfers_count(tmp_path: Path) -> None:
    cal = decided(tmp_path, f"""
non_working:
  - {{date: {UNKNOWN}-01-08, note: "moved to Saturday {UNKNOWN}-01-16"}}
working:
  - {UNKNOWN}-01-16
decided_years:
  {UNKNOWN}: "resolution No. ... (test)"
""")
    assert cal.is_known_year(UNKNOWN) and cal.unknown_years(date(KNOWN, 12, 1), date(UNKNOWN, 2, 1)) == ()
    assert not cal.is_working_day(date(UNKNOWN, 1, 8))
    assert cal.is_working_day(date(UNKNOWN, 1, 16))
    assert cal.decided_years == {UNKNOWN: "resolution No. ... (test)"}


@pytest.mark.parametrize("text, words", [
    ("decided_years: [nineteen]", "'nineteen' is not a year"),
    ("decided_years: 2027", "must be a mapping"),
    ("decided_years: {3000: x}", "3000 is not a year"),
])
def test_a_bad_decided_years_entry_is_refused_naming_it(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(CalendarError, match=words):
        decided(tmp_path, text)


def test_okno_due_through_an_unknown_year_prints_the_date_and_warns_exit_0() -> None:
    start = date(KNOWN, 12, 20)
    result = runner.invoke(app, ["due", start.isoformat(), "1 месяц"])
    assert result.exit_code == 0, result.output
    assert result.stdout == due_date(start, "1 month", SHIPPED).isoformat() + "\n"
    assert f"provisional: the working-day transfers of {UNKNOWN} are not known yet" in result.stderr
    assert "decided_years" in result.stderr and "docs/terms.md" in result.stderr


def test_okno_due_within_known_years_does_not_warn() -> None:
    result = runner.invoke(app, ["due", "2025-06-18", "15 дней"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "2025-07-07\n", "")


def test_okno_calendar_prints_the_non_working_and_the_worked_days() -> None:
    result = runner.invoke(app, ["calendar", "2025"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Resolution No. 839 of 14.11.2024: 6 Jan <- 11 Jan, 28 Apr <- 26 Apr, 4 Jul <- 12 Jul,
    # 26 Dec <- 20 Dec; the holidays on weekdays; no Saturday or Sunday among the non-working.
    rows = [line.split(maxsplit=2) for line in lines if not line.startswith("#")]
    off = [row[0] for row in rows if row[1] == "non-working"]
    worked = [row[0] for row in rows if row[1] == "working"]
    assert worked == ["2025-01-11", "2025-04-26", "2025-07-12", "2025-12-20"]
    for day in ("2025-01-01", "2025-01-06", "2025-01-07", "2025-04-28", "2025-04-29",
                "2025-05-01", "2025-05-09", "2025-07-03", "2025-07-04", "2025-11-07",
                "2025-12-25", "2025-12-26"):
        assert day in off
    assert all(date.fromisoformat(d).weekday() < 5 for d in off)
    assert "Радуница" in result.stdout  # the names in Russian
    assert result.stderr == ""


def test_okno_calendar_of_an_unknown_year_warns_and_of_an_unsupported_one_fails() -> None:
    result = runner.invoke(app, ["calendar", str(UNKNOWN)])
    assert result.exit_code == 0 and f"{UNKNOWN}-01-07" in result.stdout
    assert "provisional" in result.stderr
    result = runner.invoke(app, ["calendar", "3000"])
    assert result.exit_code == 2 and "outside the supported calendar range" in result.stderr


def test_a_case_whose_term_runs_into_an_unknown_year_shows_a_provisional_due_date(tmp_path) -> None:
    late = Engine(tmp_path / "late.db", at=datetime(KNOWN, 12, 21, 7, 0, tzinfo=UTC))
    case_id = late.start("2.1")  # 5 days: counted within the known year
    view = case_view(late.db, case_id, late.versions, late.cases.calendar)
    assert (view["due_provisional"], view["due_provisional_years"]) == (False, [])
    case_id = late.start("1.1.5")  # 1 month: into the next year
    view = case_view(late.db, case_id, late.versions, late.cases.calendar)
    assert view["due_date"].year == UNKNOWN
    assert (view["due_provisional"], view["due_provisional_years"]) == (True, [UNKNOWN])


def test_the_case_json_and_page_mark_the_provisional_due_date(tmp_path) -> None:
    from engine.clock import FixedClock
    from tests.pages_support import sign_in_client
    from tests.test_api_support import Api

    api = Api(tmp_path, FixedClock(datetime(KNOWN, 12, 21, 9, 0, tzinfo=UTC)))
    case_id = api.start("1.1.5", applicant="Иванов Иван Иванович")["id"]  # 1 month
    body = api.get(f"/api/cases/{case_id}").json()
    assert (body["due_provisional"], body["due_provisional_years"]) == (True, [UNKNOWN])
    sign_in_client(api, "clerk")
    html = api.client.get(f"/cases/{case_id}").text
    assert 'id="due-provisional"' in html and f"на {UNKNOWN} год ещё не утверждены" in html

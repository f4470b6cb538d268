"""`okno due DATE TERM`: prints the ISO due date; bad input -> message on stderr, exit code 2."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.terms import DEFAULT_OVERRIDES_PATH

OVERRIDES_ENV_VAR = "OKNO_CALENDAR_OVERRIDES"  # the calendar_overrides setting

runner = CliRunner()


@pytest.fixture(autouse=True)
def shipped_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OVERRIDES_ENV_VAR, str(DEFAULT_OVERRIDES_PATH))


@pytest.mark.parametrize("start, term, expected", [
    ("2025-06-18", "15 days", "2025-07-07"),
    ("2025-04-24", "5 working days", "2025-05-05"),
    ("2025-01-31", "1 month", "2025-02-28"),
    ("2025-06-18", "same day", "2025-06-18"),
    ("2025-06-18", "P15D", "2025-07-07"),
    ("2025-04-24", "5 рабочих дней", "2025-05-05"),
])
def test_prints_due_date(start: str, term: str, expected: str) -> None:
    result = runner.invoke(app, ["due", start, term])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected + "\n"


@pytest.mark.parametrize("start, term, message", [
    ("2025-06-18", "15 dayz", "cannot read term '15 dayz'"),
    ("2025-02-30", "15 days", "invalid date '2025-02-30'"),
    ("18.06.2025", "15 days", "invalid date '18.06.2025'"),
    ("2250-01-01", "15 days", "year 2250 is outside the supported calendar range"),
])
def test_bad_input_exits_2_with_message_on_stderr(start: str, term: str, message: str) -> None:
    result = runner.invoke(app, ["due", start, term])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_missing_argument_exits_2() -> None:
    result = runner.invoke(app, ["due", "2025-06-18"])
    assert result.exit_code == 2


def test_override_file_via_env(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text("working: [2025-07-04]\n", encoding="utf-8")
    monkeypatch.setenv(OVERRIDES_ENV_VAR, str(path))
    result = runner.invoke(app, ["due", "2025-06-18", "15 days"])
    assert result.exit_code == 0 and result.stdout == "2025-07-04\n"


def test_an_unusable_setting_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKNO_TIMEZONE", "Europe/Atlantis")
    result = runner.invoke(app, ["due", "2025-06-18", "15 days"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "OKNO_TIMEZONE='Europe/Atlantis'" in result.stderr

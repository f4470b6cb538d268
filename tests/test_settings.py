"""engine.settings: every OKNO_* variable in one object, read once by the entry point and passed
down; a value okno cannot use stops the start with a message naming the variable."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from api.app import app_from_env
from api.cli import app as cli
from api.deps import build_services
from engine.clock import DEFAULT_ZONE, FixedClock, SystemClock
from engine.notices.mail import SmtpConfig
from engine.settings import DEFAULT_CATALOG, Settings, SettingsError, variable
from engine.terms import DEFAULT_OVERRIDES_PATH
from tests.test_api_support import Api

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = [variable(name) for name in Settings.model_fields]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_documented_defaults(clean_env) -> None:
    s = Settings()
    assert s.database_url == "sqlite:///var/okno.db"
    assert s.catalog == DEFAULT_CATALOG == ROOT / "procedures"
    assert s.secret_key is None and s.secret_file == Path("var/secret.key")
    assert (s.token_minutes, s.idempotency_hours) == (60, 24)
    assert s.idempotency_retention == timedelta(hours=24)
    assert s.calendar_overrides == DEFAULT_OVERRIDES_PATH
    assert s.timezone == ZoneInfo("Europe/Minsk") == DEFAULT_ZONE
    assert (s.signin_window_minutes, s.signin_attempts, s.signin_name_attempts,
            s.signin_address_attempts, s.signin_hashes, s.trusted_proxies) == (15, 5, 100, 50, 2, ())
    assert (s.header_timeout_seconds, s.body_timeout_seconds, s.keep_alive_seconds,
            s.max_body_bytes, s.max_connections) == (10, 30, 5, 1024 * 1024, 4096)
    assert s.smtp_host is None and s.smtp() is None  # no server: notices wait in the outbox
    assert (s.smtp_port, s.smtp_from, s.smtp_starttls, s.smtp_timeout, s.notice_attempts) == (
        25, "okno@localhost", False, 30.0, 8)
    assert s.shutdown_grace_seconds == 30


def test_every_setting_is_documented_in_the_operators_guide() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(OKNO_[A-Z_]+)` \|", guide, re.MULTILINE))
    assert documented == set(VARIABLES)


def test_each_variable_is_read(clean_env, tmp_path) -> None:
    values = {"OKNO_DATABASE_URL": "sqlite:///elsewhere.db", "OKNO_CATALOG": str(tmp_path),
              "OKNO_SECRET_KEY": "k" * 40, "OKNO_SECRET_FILE": str(tmp_path / "key"),
              "OKNO_TOKEN_MINUTES": "5",
              "OKNO_IDEMPOTENCY_HOURS": "2", "OKNO_CALENDAR_OVERRIDES": str(tmp_path / "o.yaml"),
              "OKNO_TIMEZONE": "UTC", "OKNO_SIGNIN_WINDOW_MINUTES": "30",
              "OKNO_SIGNIN_ATTEMPTS": "3", "OKNO_SIGNIN_NAME_ATTEMPTS": "40",
              "OKNO_SIGNIN_ADDRESS_ATTEMPTS": "20", "OKNO_SIGNIN_HASHES": "1",
              "OKNO_SIGNUP_WINDOW_MINUTES": "90", "OKNO_SIGNUP_ATTEMPTS": "2",
              "OKNO_TRUSTED_PROXIES": "10.0.0.5, 192.168.10.0/24 ::1",
              "OKNO_HEADER_TIMEOUT_SECONDS": "2.5", "OKNO_BODY_TIMEOUT_SECONDS": "7",
              "OKNO_KEEP_ALIVE_SECONDS": "3", "OKNO_MAX_BODY_BYTES": "65536",
              "OKNO_MAX_CONNECTIONS": "100", "OKNO_SHUTDOWN_GRACE_SECONDS": "2.5",
              "OKNO_AUDIT_KEY": "a" * 40,
              "OKNO_AUDIT_KEY_FILE": str(tmp_path / "audit.key"),
              "OKNO_AUDIT_CHECKPOINTS": str(tmp_path / "cp"),
              "OKNO_AUTHORITIES": str(tmp_path / "a"), "OKNO_BASE_UNITS": str(tmp_path / "b.yaml"),
              "OKNO_SMTP_HOST": "mail.example.by", "OKNO_SMTP_PORT": "587",
              "OKNO_SMTP_USER": "okno", "OKNO_SMTP_PASSWORD": "p" * 20, "OKNO_SMTP_STARTTLS": "true",
              "OKNO_SMTP_FROM": "okno@example.by", "OKNO_SMTP_TIMEOUT": "12.5",
              "OKNO_NOTICE_ATTEMPTS": "3",
              "OKNO_METRICS_NETWORKS": "10.9.0.0/16"}
    assert set(values) == set(VARIABLES)
    for name, value in values.items():
        clean_env.setenv(name, value)
    s = Settings()
    assert s.database_url == "sqlite:///elsewhere.db" and s.catalog == tmp_path
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "k" * 40
    assert "k" * 40 not in repr(s)  # the key is not printed with the settings
    assert s.secret_file == tmp_path / "key" and s.calendar_overrides == tmp_path / "o.yaml"
    assert (s.token_minutes, s.idempotency_hours) == (5, 2)
    assert s.timezone == ZoneInfo("UTC")
    assert (s.signin_window_minutes, s.signin_attempts, s.signin_name_attempts,
            s.signin_address_attempts, s.signin_hashes) == (30, 3, 40, 20, 1)
    assert (s.signup_window_minutes, s.signup_attempts) == (90, 2)
    assert [str(n) for n in s.trusted_proxies] == ["10.0.0.5/32", "192.168.10.0/24", "::1/128"]
    assert [str(n) for n in s.metrics_networks] == ["10.9.0.0/16"]
    assert (s.header_timeout_seconds, s.body_timeout_seconds, s.keep_alive_seconds) == (2.5, 7, 3)
    assert (s.max_body_bytes, s.max_connections, s.shutdown_grace_seconds) == (65536, 100, 2.5)
    assert s.audit_key is not None and "a" * 40 not in repr(s)
    assert (s.audit_key_file, s.audit_checkpoints) == (tmp_path / "audit.key", tmp_path / "cp")
    assert s.authorities == tmp_path / "a" and s.base_units == tmp_path / "b.yaml"
    assert s.smtp() == SmtpConfig(host="mail.example.by", port=587, sender="okno@example.by",
                                  user="okno", password="p" * 20, starttls=True, timeout=12.5)
    assert "p" * 20 not in repr(s) and "p" * 20 not in repr(s.smtp())
    assert s.notice_attempts == 3


def test_an_empty_variable_counts_as_unset(clean_env) -> None:
    defaults = Settings()
    for name in VARIABLES:
        clean_env.setenv(name, "")
    assert Settings() == defaults


def test_arguments_win_over_the_environment(clean_env) -> None:
    clean_env.setenv("OKNO_DATABASE_URL", "sqlite:///from-env.db")
    assert Settings(database_url="sqlite:///from-cli.db").database_url == "sqlite:///from-cli.db"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("OKNO_TOKEN_MINUTES", "abc", "valid integer"),
    ("OKNO_TOKEN_MINUTES", "0", "greater than or equal to 1"),
    ("OKNO_IDEMPOTENCY_HOURS", "a day", "valid integer"),
    ("OKNO_TIMEZONE", "Europe/Atlantis", "invalid timezone"),
    ("OKNO_TRUSTED_PROXIES", "*", "does not appear to be an IPv4 or IPv6 network"),
    ("OKNO_TRUSTED_PROXIES", "10.0.0.5/24", "has host bits set"),
    ("OKNO_SIGNIN_HASHES", "0", "greater than or equal to 1"),
    ("OKNO_BODY_TIMEOUT_SECONDS", "inf", "finite number"),
    ("OKNO_MAX_BODY_BYTES", "10", "greater than or equal to 1024"),
    ("OKNO_SHUTDOWN_GRACE_SECONDS", "0", "greater than 0"),
])
def test_a_bad_value_is_an_error_naming_its_variable(clean_env, name, value, says) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        Settings()
    message = str(refused.value)
    assert f"{name}={value!r}" in message and says in message
    assert isinstance(refused.value, ValueError)


def test_several_bad_values_are_all_named(clean_env) -> None:
    clean_env.setenv("OKNO_TOKEN_MINUTES", "abc")
    clean_env.setenv("OKNO_IDEMPOTENCY_HOURS", "-1")
    with pytest.raises(SettingsError) as refused:
        Settings()
    assert "OKNO_TOKEN_MINUTES='abc'" in str(refused.value)
    assert "OKNO_IDEMPOTENCY_HOURS='-1'" in str(refused.value)


def test_an_unknown_setting_passed_in_is_refused(clean_env) -> None:
    with pytest.raises(SettingsError, match="OKNO_TOKEN_HOURS"):
        Settings(token_hours=1)


def test_the_app_factory_stops_on_a_bad_value(clean_env) -> None:
    clean_env.setenv("OKNO_TOKEN_MINUTES", "abc")
    with pytest.raises(SettingsError, match="OKNO_TOKEN_MINUTES='abc'"):
        app_from_env()


def test_a_cli_command_exits_2_naming_the_variable(clean_env, tmp_path) -> None:
    clean_env.setenv("OKNO_TOKEN_MINUTES", "abc")
    result = CliRunner().invoke(cli, ["user", "list", "--database",
                                      f"sqlite:///{tmp_path / 'okno.db'}"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "error: invalid setting: OKNO_TOKEN_MINUTES='abc'" in result.stderr
    assert not (tmp_path / "okno.db").exists()  # refused before anything was opened


# ------------------------------------------------------------------------------ passed down

def test_the_token_lifetime_is_the_setting_read_at_the_start(clean_env, tmp_path) -> None:
    clean_env.setenv("OKNO_TOKEN_MINUTES", "5")
    api = Api(tmp_path)
    clean_env.setenv("OKNO_TOKEN_MINUTES", "600")  # read once: changing it later does nothing
    r = api.client.post("/api/auth/token", data={"username": "clerk",
                                                 "password": "correct horse battery staple"})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 300


def test_the_services_take_database_catalog_zone_and_calendar_from_the_settings(tmp_path) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("working: [2025-07-04]\n", encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'okno.db'}",
                        catalog=tmp_path / "no-catalog", secret_key="s" * 40,
                        timezone="UTC", calendar_overrides=overrides,
                        audit_key_file=tmp_path / "audit.key", audit_checkpoints=tmp_path / "cp")
    svc = build_services(settings=settings)
    assert svc.settings is settings and svc.secret == "s" * 40
    assert str(svc.db.url) == settings.database_url and svc.catalog_path == tmp_path / "no-catalog"
    assert isinstance(svc.clock, SystemClock) and svc.clock.zone == ZoneInfo("UTC")
    assert svc.cases.calendar.overrides_path == overrides
    assert svc.cases.calendar.is_working_day(date(2025, 7, 4))
    assert svc.cases.ledger.checkpoints == tmp_path / "cp"
    assert (tmp_path / "audit.key").stat().st_mode & 0o777 == 0o600  # created, for its owner only


def test_the_clock_counts_days_in_its_zone() -> None:
    late = datetime(2025, 6, 18, 22, 30, tzinfo=UTC)
    assert FixedClock(late).today() == date(2025, 6, 19)  # already the 19th in Minsk
    assert FixedClock(late, ZoneInfo("UTC")).today() == date(2025, 6, 18)
    assert SystemClock().zone == DEFAULT_ZONE


def test_no_engine_module_reads_the_environment() -> None:
    """Only the entry points read settings; the git subprocess gets the environment passed on."""
    readers = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|getenv\(", text):
            readers.append(path.relative_to(ROOT).as_posix())
    assert readers == ["engine/diff/sides.py"]
    sides = (ROOT / "engine" / "diff" / "sides.py").read_text(encoding="utf-8")
    assert sides.count("os.environ") == 1 and "env={**os.environ" in sides

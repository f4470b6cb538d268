"""Account changes reach tokens already issued: disabling, enabling, new passwords, new roles.

A real SQLite file and the real app (tests.test_api_support.Api); the account cache runs on a
clock the tests move, or is off (0 seconds).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from api.auth import (
    ALGORITHM,
    ISSUER,
    MISS,
    REVOKED,
    AccountCache,
    accepts,
    token_state,
)
from api.cli import app as cli
from engine.accounts import (
    Account,
    User,
    disable_user,
    enable_user,
    get_account,
    list_users,
    set_password,
    set_role,
    verify_password,
)
from engine.errors import InvalidInput, NotFound
from engine.settings import SettingsError
from engine.store.tables import users
from tests.db_support import url as db_url
from tests.test_api_support import ORG_A, PASSWORD, SECRET, Api

runner = CliRunner()


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingCache(AccountCache):
    """The real cache, counting its database reads."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.loads = 0

    def load(self, name: str):
        self.loads += 1
        return super().load(name)


def make_api(tmp_path, seconds: float = 5) -> tuple[Api, Ticker, CountingCache]:
    api, ticker = Api(tmp_path), Ticker()
    cache = api.app.state.account_cache = CountingCache(api.db, seconds, clock=ticker)
    return api, ticker, cache


def sign_in(api: Api, name: str, password: str = PASSWORD):
    return api.client.post("/api/auth/token", data={"username": name, "password": password})


def me(api: Api, token: str):
    return api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def old_token(user: User, seconds_ago: int = 30) -> str:
    """A token issued `seconds_ago` (the same claims `issue_token` writes)."""
    iat = int(time.time()) - seconds_ago
    claims = {"sub": user.name, "role": user.role, "org": user.org, "iss": ISSUER,
              "iat": iat, "exp": iat + 3600}
    return jwt.encode(claims, SECRET, algorithm=ALGORITHM)


def assert_revoked(r) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] == REVOKED


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ disabling

def test_a_disabled_clerks_token_is_refused_on_the_next_request_and_they_cannot_sign_in(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=0)
    assert api.get("/api/me", "clerk").status_code == 200
    disable_user(api.db, "clerk", now())
    assert_revoked(api.get("/api/me", "clerk"))
    assert_revoked(api.get("/api/cases", "clerk"))
    r = sign_in(api, "clerk")
    assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    assert verify_password(api.db, "clerk", PASSWORD) is None
    assert api.get("/api/me", "supervisor").status_code == 200  # nobody else is affected


def test_the_cache_answers_from_memory_and_a_disable_lands_when_its_entry_expires(tmp_path):
    api, ticker, cache = make_api(tmp_path, seconds=5)
    for _ in range(3):
        assert api.get("/api/me", "clerk").status_code == 200
    assert cache.loads == 1  # one database read, then dict lookups
    disable_user(api.db, "clerk", now())
    ticker.now += 4.9
    assert api.get("/api/me", "clerk").status_code == 200  # still cached: documented delay
    ticker.now += 0.1
    assert_revoked(api.get("/api/me", "clerk"))
    assert cache.loads == 2


def test_enabling_lets_the_user_sign_in_again_but_tokens_from_before_stay_invalid(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=0)
    token = old_token(api.users["clerk"])
    assert me(api, token).status_code == 200
    disable_user(api.db, "clerk", now())
    assert disable_user(api.db, "clerk", now()) is False  # disabled already: no change
    assert enable_user(api.db, "clerk") is True
    assert enable_user(api.db, "clerk") is False
    assert_revoked(me(api, token))
    r = sign_in(api, "clerk")
    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert me(api, fresh).json() == {"name": "clerk", "role": "clerk", "org": ORG_A}


def test_a_reenabled_account_works_at_once_although_its_disabled_state_is_cached(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=5)
    disable_user(api.db, "clerk", now())
    assert_revoked(api.get("/api/me", "clerk"))  # "disabled" is cached now
    enable_user(api.db, "clerk")
    fresh = sign_in(api, "clerk").json()["access_token"]
    assert me(api, fresh).status_code == 200  # a refusal reads the row again


def test_a_removed_account_is_refused(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=0)
    with api.db.begin() as conn:
        conn.execute(delete(users).where(users.c.name == "auditor"))
    assert_revoked(api.get("/api/me", "auditor"))


# ------------------------------------------------------------------------------ passwords

def test_a_new_password_invalidates_old_tokens_and_an_immediate_sign_in_works(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=5)
    token = old_token(api.users["clerk"])
    assert me(api, token).status_code == 200  # cached as valid
    set_password(api.db, "clerk", "a new secret", now())
    r = sign_in(api, "clerk", "a new secret")  # in the same second as the change
    assert r.status_code == 200, r.text
    assert me(api, r.json()["access_token"]).status_code == 200
    assert sign_in(api, "clerk").status_code == 401  # the old password
    api.app.state.account_cache = AccountCache(api.db, 0)
    assert_revoked(me(api, token))


def test_a_token_from_the_second_of_the_change_is_current_one_from_before_is_not():
    changed = datetime.fromtimestamp(1_750_000_000.7, UTC)
    state = token_state(Account("clerk", "clerk", ORG_A, None, changed))
    user = User("clerk", "clerk", ORG_A)
    assert accepts(state, user, 1_750_000_000)
    assert accepts(state, user, 1_750_000_001)
    assert not accepts(state, user, 1_749_999_999)
    assert token_state(Account("clerk", "clerk", ORG_A, changed, None)) is None  # disabled
    assert token_state(None) is None


def test_set_password_stores_the_change_time_in_utc(tmp_path):
    api = Api(tmp_path)
    from datetime import timedelta, timezone

    minsk = timezone(timedelta(hours=3))
    set_password(api.db, "clerk", "x", datetime(2025, 6, 18, 12, 0, 5, tzinfo=minsk))
    assert get_account(api.db, "clerk").credentials_changed_at == datetime(
        2025, 6, 18, 9, 0, 5, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        set_password(api.db, "clerk", "", now())
    with pytest.raises(NotFound):
        set_password(api.db, "ghost", "x", now())


# ---------------------------------------------------------------------------------- roles

def test_a_role_change_invalidates_the_old_token_and_the_new_one_works(tmp_path):
    api, ticker, _ = make_api(tmp_path, seconds=5)
    assert api.get("/api/me", "clerk").status_code == 200
    set_role(api.db, "clerk", "supervisor", ORG_A)
    r = sign_in(api, "clerk")
    assert r.status_code == 200
    assert me(api, r.json()["access_token"]).json()["role"] == "supervisor"  # at once
    assert_revoked(api.get("/api/me", "clerk"))  # that read refreshed the cache
    ticker.now += 60
    assert_revoked(api.get("/api/me", "clerk"))


def test_a_changed_organisation_invalidates_the_old_token(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=0)
    set_role(api.db, "clerk", "clerk", "minsk-frunzensky")
    assert_revoked(api.get("/api/me", "clerk"))


def test_set_role_checks_its_input(tmp_path):
    api = Api(tmp_path)
    with pytest.raises(InvalidInput) as exc:
        set_role(api.db, "clerk", "boss", ORG_A)
    assert exc.value.field == "role"
    with pytest.raises(NotFound):
        set_role(api.db, "ghost", "clerk", ORG_A)
    with pytest.raises(NotFound):
        disable_user(api.db, "ghost", now())
    with pytest.raises(NotFound):
        enable_user(api.db, "ghost")


# ---------------------------------------------------------------------------------- cache

def test_the_cache_is_bounded_and_drops_the_entry_read_longest_ago(tmp_path):
    api, ticker = Api(tmp_path), Ticker()
    cache = AccountCache(api.db, 5, capacity=2, clock=ticker)
    for name in ("clerk", "supervisor", "auditor"):
        cache.load(name)
    assert list(cache._entries) == ["supervisor", "auditor"]
    cache.load("supervisor")  # read again: now the newest
    cache.load("analyst")
    assert list(cache._entries) == ["supervisor", "analyst"]
    assert cache.cached("analyst") == ("analyst", "minjust", 0)
    ticker.now += 5
    assert cache.cached("analyst") is MISS  # expired
    assert cache.cached("nobody-cached") is MISS
    assert AccountCache(api.db, 0).load("clerk") == ("clerk", ORG_A, 0)


def test_no_cache_when_its_seconds_are_zero(tmp_path):
    api = Api(tmp_path)
    cache = AccountCache(api.db, 0)
    cache.load("clerk")
    assert cache._entries == {}


@pytest.mark.parametrize(("value", "seconds"), [(None, 5), ("", 5), ("0", 0), ("1.5", 1.5)])
def test_account_cache_seconds_from_the_environment(tmp_path, monkeypatch, value, seconds):
    """The app's cache trusts a row for the `account_cache_seconds` setting its factory read."""
    if value is None:
        monkeypatch.delenv("OKNO_ACCOUNT_CACHE_SECONDS", raising=False)
    else:
        monkeypatch.setenv("OKNO_ACCOUNT_CACHE_SECONDS", value)
    api = Api(tmp_path)
    monkeypatch.setenv("OKNO_ACCOUNT_CACHE_SECONDS", "99")  # read once, at the start: no effect
    assert api.get("/api/me").status_code == 200
    assert api.app.state.account_cache.seconds == seconds


@pytest.mark.parametrize("value", ["-3", "soon", "nan", "inf"])
def test_an_unusable_account_cache_seconds_stops_the_start(tmp_path, monkeypatch, value):
    monkeypatch.setenv("OKNO_ACCOUNT_CACHE_SECONDS", value)
    with pytest.raises(SettingsError, match="OKNO_ACCOUNT_CACHE_SECONDS"):
        Api(tmp_path)


# ------------------------------------------------------------------------------------ CLI

def test_the_user_commands_disable_enable_and_reset_passwords(tmp_path):
    api, _, _ = make_api(tmp_path, seconds=0)
    url = db_url(tmp_path / 'okno.db')

    def okno(*args: str, stdin: str | None = None):
        return runner.invoke(cli, ["user", *args, "--database", url], input=stdin)

    result = okno("disable", "clerk")
    assert result.exit_code == 0 and "user clerk disabled" in result.output
    assert_revoked(api.get("/api/me", "clerk"))
    assert "already" in okno("disable", "clerk").output
    listed = okno("list").output.splitlines()
    assert f"clerk\tclerk\t{ORG_A}\tdisabled" in listed
    assert f"supervisor\tsupervisor\t{ORG_A}" in listed
    assert [u.name for u in list_users(api.db) if u.disabled] == ["clerk"]

    result = okno("enable", "clerk")
    assert result.exit_code == 0 and "user clerk enabled" in result.output
    assert "not disabled" in okno("enable", "clerk").output
    assert sign_in(api, "clerk").status_code == 200

    result = okno("password", "clerk", stdin="fresh password\n")
    assert result.exit_code == 0, result.output
    assert "password of user clerk changed" in result.output
    assert verify_password(api.db, "clerk", "fresh password") == api.users["clerk"]
    assert verify_password(api.db, "clerk", PASSWORD) is None
    r = sign_in(api, "clerk", "fresh password")
    assert me(api, r.json()["access_token"]).status_code == 200

    result = okno("role", "clerk", "--role", "supervisor", "--org", ORG_A)
    assert result.exit_code == 0 and "user clerk is now supervisor" in result.output
    assert_revoked(me(api, r.json()["access_token"]))  # the token names the old role
    assert f"clerk\tsupervisor\t{ORG_A}" in okno("list").output.splitlines()
    refused = okno("role", "clerk", "--role", "boss", "--org", ORG_A)
    assert refused.exit_code == 2 and "error:" in refused.output


@pytest.mark.parametrize("command", [["disable", "ghost"], ["enable", "ghost"],
                                     ["password", "ghost"],
                                     ["role", "ghost", "--role", "clerk", "--org", "o"]])
def test_the_user_commands_report_an_unknown_user(tmp_path, command):
    url = db_url(tmp_path / 'okno.db')
    result = runner.invoke(cli, ["user", *command, "--database", url], input="x\n")
    assert result.exit_code == 2
    assert "error: no user 'ghost'" in result.output


def test_an_empty_new_password_is_refused(tmp_path):
    api = Api(tmp_path)
    url = db_url(tmp_path / 'okno.db')
    result = runner.invoke(cli, ["user", "password", "clerk", "--database", url], input="\n")
    assert result.exit_code == 2
    assert "error: password must not be empty" in result.output
    assert verify_password(api.db, "clerk", PASSWORD) == api.users["clerk"]


# ------------------------------------------------------------------------------ migration

def test_accounts_from_before_0005_are_enabled_with_no_change_recorded(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from engine.accounts import add_user
    from engine.store.connect import MIGRATIONS, connect

    url = db_url(tmp_path / 'before_0005.db')
    with create_engine(url).begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.execute(text("INSERT INTO users (name, password_hash, role, org, created_at) "
                          "VALUES ('old', 'not-a-hash', 'clerk', 'o', '2025-06-18 07:00:00')"))
    db = connect(url)
    assert get_account(db, "old") == Account("old", "clerk", "o", None, None)
    add_user(db, "new", PASSWORD, "clerk", "o")
    assert verify_password(db, "new", PASSWORD) == User("new", "clerk", "o")

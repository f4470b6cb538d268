"""Account changes reach tokens already issued: disabling, enabling, new passwords, new roles.

A real SQLite file and the real app (tests.test_api_support.Api); every request reads the account
(`AccountCheck`), so a change is seen on the next request, also by a second app (another server
process) on the same database.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from api.app import create_app
from api.auth import (
    ALGORITHM,
    ISSUER,
    REVOKED,
    AccountCheck,
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
from engine.store.tables import users
from tests.db_support import url as db_url
from tests.test_api_support import ORG_A, PASSWORD, SECRET, Api, TestClient, _services

runner = CliRunner()


class CountingCheck(AccountCheck):
    """The real check, counting its database reads."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.loads = 0

    def load(self, name: str):
        self.loads += 1
        return super().load(name)


def make_api(tmp_path) -> tuple[Api, CountingCheck]:
    api = Api(tmp_path)
    check = api.app.state.account_check = CountingCheck(api.db)
    return api, check


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
    api, _ = make_api(tmp_path)
    assert api.get("/api/me", "clerk").status_code == 200
    disable_user(api.db, "clerk", now())
    assert_revoked(api.get("/api/me", "clerk"))
    assert_revoked(api.get("/api/cases", "clerk"))
    r = sign_in(api, "clerk")
    assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    assert verify_password(api.db, "clerk", PASSWORD) is None
    assert api.get("/api/me", "supervisor").status_code == 200  # nobody else is affected


def test_every_request_reads_the_account_so_a_disable_lands_on_the_next_one(tmp_path):
    api, check = make_api(tmp_path)
    for _ in range(3):
        assert api.get("/api/me", "clerk").status_code == 200
    assert check.loads == 3  # one read by primary key per request, nothing cached
    disable_user(api.db, "clerk", now())
    assert_revoked(api.get("/api/me", "clerk"))
    assert check.loads == 4


def test_a_change_made_through_one_process_is_seen_by_another_on_its_next_request(tmp_path):
    """Two apps on one database file, as two server processes: a disable, a new password and a
    new role, each made while both apps hold valid tokens, are refused by both at once."""
    one = Api(tmp_path)
    two = TestClient(create_app(services_=_services(tmp_path / "okno.db", one.clock)),
                     raise_server_exceptions=False)

    def on_two(user: str, token: str | None = None):
        return two.get("/api/me", headers={"Authorization": f"Bearer {token or one.tokens[user]}"})

    for user in ("clerk", "supervisor", "auditor"):
        assert one.get("/api/me", user).status_code == 200 and on_two(user).status_code == 200
    disable_user(one.db, "clerk", now())
    assert_revoked(one.get("/api/me", "clerk"))
    assert_revoked(on_two("clerk"))
    old = old_token(one.users["supervisor"])
    assert on_two("supervisor", old).status_code == 200
    set_password(one.db, "supervisor", "a new secret", now())
    assert_revoked(on_two("supervisor", old))
    fresh = two.post("/api/auth/token", data={"username": "supervisor", "password": "a new secret"})
    assert fresh.status_code == 200
    assert me(one, fresh.json()["access_token"]).status_code == 200  # the new token on the other
    set_role(one.db, "auditor", "analyst", "minjust")
    assert_revoked(on_two("auditor"))
    assert_revoked(one.get("/api/me", "auditor"))
    assert on_two("petr").status_code == 200  # nobody else is affected


def test_enabling_lets_the_user_sign_in_again_but_tokens_from_before_stay_invalid(tmp_path):
    api, _ = make_api(tmp_path)
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


def test_a_reenabled_account_works_at_once(tmp_path):
    api, _ = make_api(tmp_path)
    disable_user(api.db, "clerk", now())
    assert_revoked(api.get("/api/me", "clerk"))
    enable_user(api.db, "clerk")
    fresh = sign_in(api, "clerk").json()["access_token"]
    assert me(api, fresh).status_code == 200


def test_a_removed_account_is_refused(tmp_path):
    api, _ = make_api(tmp_path)
    with api.db.begin() as conn:
        conn.execute(delete(users).where(users.c.name == "auditor"))
    assert_revoked(api.get("/api/me", "auditor"))


# ------------------------------------------------------------------------------ passwords

def test_a_new_password_invalidates_old_tokens_and_an_immediate_sign_in_works(tmp_path):
    api, _ = make_api(tmp_path)
    token = old_token(api.users["clerk"])
    assert me(api, token).status_code == 200  # cached as valid
    set_password(api.db, "clerk", "a new secret", now())
    r = sign_in(api, "clerk", "a new secret")  # in the same second as the change
    assert r.status_code == 200, r.text
    assert me(api, r.json()["access_token"]).status_code == 200
    assert sign_in(api, "clerk").status_code == 401  # the old password
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
    api, _ = make_api(tmp_path)
    assert api.get("/api/me", "clerk").status_code == 200
    set_role(api.db, "clerk", "supervisor", ORG_A)
    r = sign_in(api, "clerk")
    assert r.status_code == 200
    assert me(api, r.json()["access_token"]).json()["role"] == "supervisor"  # at once
    assert_revoked(api.get("/api/me", "clerk"))


def test_a_changed_organisation_invalidates_the_old_token(tmp_path):
    api, _ = make_api(tmp_path)
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


# ---------------------------------------------------------------------------------- reads

def test_the_check_reads_the_state_a_token_is_checked_against(tmp_path):
    api = Api(tmp_path)
    check = AccountCheck(api.db)
    assert check.load("clerk") == ("clerk", ORG_A, 0)
    assert check.load("nobody") is None
    set_role(api.db, "clerk", "supervisor", ORG_A)
    assert check.load("clerk") == ("supervisor", ORG_A, 0)  # no cache: the row as it is now
    disable_user(api.db, "clerk", now())
    assert check.load("clerk") is None


# ------------------------------------------------------------------------------------ CLI

def test_the_user_commands_disable_enable_and_reset_passwords(tmp_path):
    api, _ = make_api(tmp_path)
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

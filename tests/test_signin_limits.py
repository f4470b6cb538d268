"""Signing in cannot be turned against the server or a user (api/auth.py: `LoginLimiter`,
`PasswordChecks`, `sign_in`; issue 14).

In-process tests run the app on a real SQLite file with the suite's cheap hasher and move the
limiter's clock by hand. The flood and the forged `X-Forwarded-For` run against a real
`okno serve` process on loopback, which hashes with argon2's production parameters (~64 MiB a
hash); clients come from different loopback addresses (127.0.0.2, 127.0.0.3) to be different
clients.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import argon2
import httpx
import pytest

from api.auth import LoginLimiter, PasswordChecks, sign_in
from api.problems import ApiError
from engine import accounts
from engine.accounts import add_user, disable_user
from engine.settings import Settings
from engine.store.connect import connect
from engine.store.tables import signin_attempts
from tests.db_support import url as db_url
from tests.serving import Served, connect_from, okno_serve
from tests.test_api_support import PASSWORD, Api, Ticker

MIB = 1024 * 1024


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


@pytest.fixture
def ticker(api: Api) -> Ticker:
    return api.throttle_on(Ticker())


# ------------------------------------------------------------------------------- per address

def test_one_address_is_held_back_whatever_the_names(api: Api, ticker: Ticker) -> None:
    for n in range(50):  # a fresh name each time: no name's own limit is ever reached
        assert api.sign_in_form(f"guess-{n}", "password").status_code == 401
        ticker.t += 1
    refused = api.sign_in_form("clerk", PASSWORD)  # even a real user with the right password
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert "this address" in refused.json()["detail"] and "field" not in refused.json()
    assert int(refused.headers["retry-after"]) == 15 * 60 - 50
    ticker.t += 15 * 60 - 50  # the first guess leaves the window
    assert api.sign_in_form("clerk", PASSWORD).status_code == 200


def test_successful_sign_ins_do_not_count_against_the_address(api: Api, ticker: Ticker) -> None:
    for _ in range(60):  # an office behind one address signs in all morning
        assert api.sign_in_form("clerk", PASSWORD).status_code == 200
    for n in range(49):
        assert api.sign_in_form(f"typo-{n}", PASSWORD).status_code == 401
    assert api.sign_in_form("supervisor", PASSWORD).status_code == 200


@pytest.fixture
def db(tmp_path):
    return connect(f"sqlite:///{tmp_path / 'okno.db'}")


def test_other_addresses_are_not_held_back(db) -> None:
    limiter = LoginLimiter(db, address_attempts=3, clock=lambda: 0.0)
    for n in range(3):
        limiter.attempt(f"name-{n}", "203.0.113.9")
    with pytest.raises(ApiError) as refused:
        limiter.attempt("another", "203.0.113.9")
    assert refused.value.status == 429 and refused.value.field is None
    limiter.attempt("another", "198.51.100.4")


def test_an_ipv6_client_is_one_address_across_its_64(db) -> None:
    limiter = LoginLimiter(db, address_attempts=3, clock=lambda: 0.0)
    for n in range(3):  # a host may take any address of its /64: each one is the same client
        limiter.attempt(f"name-{n}", f"2001:db8:1:2::{n + 1}")
    with pytest.raises(ApiError):
        limiter.attempt("another", "2001:db8:1:2:ffff::9")
    limiter.attempt("another", "2001:db8:1:3::1")  # the next /64 is someone else


def test_the_limits_are_the_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OKNO_SIGNIN_ADDRESS_ATTEMPTS", "2")
    monkeypatch.setenv("OKNO_SIGNIN_WINDOW_MINUTES", "30")
    api = Api(tmp_path)
    for n in range(2):
        assert api.sign_in_form(f"guess-{n}", "x").status_code == 401
    refused = api.sign_in_form("clerk", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 15 * 60
    throttle = LoginLimiter.from_settings(api.db, Settings(
        signin_attempts=3, signin_name_attempts=7, signin_address_attempts=11,
        signin_window_minutes=2)).throttle
    assert (throttle.attempts, throttle.name_attempts, throttle.address_attempts,
            throttle.window) == (3, 7, 11, 120.0)


# ---------------------------------------------------------------------------- hashing slots

def test_a_sign_in_finding_every_slot_taken_is_refused_at_once(api: Api, ticker: Ticker) -> None:
    checks = api.app.state.password_checks = PasswordChecks(1)
    with checks.slot():  # another sign-in is being checked
        busy = api.sign_in_form("clerk", PASSWORD)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert "busy" in busy.json()["detail"]
    assert api.count(signin_attempts) == 0  # it cost nothing, so it counts for nothing
    assert api.sign_in_form("clerk", PASSWORD).status_code == 200  # the slot is free again


def test_the_sign_in_page_shares_the_limits_and_the_slots(api: Api, ticker: Ticker) -> None:
    def post(name: str, password: str):
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', api.client.get("/signin").text)
        return api.client.post("/signin", data={"csrf": csrf.group(1), "username": name,
                                                "password": password}, follow_redirects=False)

    checks = api.app.state.password_checks = PasswordChecks(1)
    with checks.slot():
        busy = post("clerk", PASSWORD)
    assert busy.status_code == 429 and "Сервер сейчас проверяет другие входы" in busy.text
    for n in range(50):
        assert post(f"guess-{n}", "password").status_code == 401
    held = post("clerk", PASSWORD)  # the page counts per address like the token route
    assert held.status_code == 429 and "Слишком много неудачных попыток" in held.text
    assert api.sign_in_form("clerk", PASSWORD).status_code == 429  # one count for both faces


class CountingHasher(argon2.PasswordHasher):
    """The suite's cheap parameters; counts the hashes it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checked: list[argon2.Parameters] = []

    def verify(self, hash, password) -> bool:  # noqa: A002 - argon2's own parameter name
        self.checked.append(argon2.extract_parameters(hash))
        return super().verify(hash, password)


@pytest.fixture
def counting() -> Iterator[CountingHasher]:
    hasher = CountingHasher()
    previous = accounts.use_password_hasher(hasher)
    yield hasher
    accounts.use_password_hasher(previous)


def test_an_unknown_name_costs_what_a_known_one_costs(tmp_path, counting: CountingHasher) -> None:
    db = connect(db_url(tmp_path / 'okno.db'))
    add_user(db, "clerk", PASSWORD, "clerk", "org")
    add_user(db, "gone", PASSWORD, "clerk", "org")
    disable_user(db, "gone", datetime.now(UTC))
    for name, password in (("clerk", PASSWORD), ("clerk", "wrong"), ("nobody", PASSWORD),
                           ("gone", PASSWORD)):
        before = len(counting.checked)
        accounts.verify_password(db, name, password)
        assert len(counting.checked) == before + 1  # exactly one hash checked, whoever it is
    assert all(p == counting.checked[0] for p in counting.checked)  # each with the same parameters


# --------------------------------------------------------------------- against a real server

@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("signin")
    add_user(connect(db_url(folder / 'okno.db')), "clerk", PASSWORD, "clerk", "org")
    with okno_serve(folder) as server:
        yield server


def _client(served: Served, source: str) -> httpx.Client:
    return httpx.Client(base_url=served.base, timeout=60,
                        transport=httpx.HTTPTransport(local_address=source))


def test_a_flood_of_sign_ins_with_random_names_cannot_take_the_servers_memory(served) -> None:
    with _client(served, "127.0.0.2") as clerk:
        token = clerk.post("/api/auth/token", data={"username": "clerk", "password": PASSWORD})
        assert token.status_code == 200
        me = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # one unknown name: the dummy hash is made and checked (production cost) once
        assert clerk.post("/api/auth/token", data={"username": "x", "password": "y"}).status_code == 401
        baseline = served.peak_memory()
        flood = []
        for _ in range(48):  # 48 clients at once, as in the issue
            conn = connect_from("127.0.0.3", served.port, timeout=60)
            body = f"username={secrets.token_hex(8)}&password={secrets.token_hex(8)}".encode()
            conn.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: okno\r\nConnection: close\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            flood.append(conn)
        assert clerk.get("/api/me", headers=me).status_code == 200  # the signed-in user is served
        answers = []
        for conn in flood:
            with conn:
                answers.append(b"".join(iter(lambda c=conn: c.recv(65536), b"")))
    statuses = [a.split(b" ", 2)[1] for a in answers]
    assert set(statuses) <= {b"401", b"429"} and b"429" in statuses
    assert all(b"\r\nretry-after: " in a.lower() for a in answers if a.split(b" ", 2)[1] == b"429")
    # two hashes at once (OKNO_SIGNIN_HASHES) take ~128 MiB; 48 took ~3 GB before
    assert served.peak_memory() - baseline < 4 * 64 * MIB


def test_a_forged_forwarded_for_neither_multiplies_guesses_nor_locks_the_user_out(served) -> None:
    guessed = []
    with _client(served, "127.0.0.1") as attacker:
        for n in range(120):
            r = attacker.post("/api/auth/token", data={"username": "clerk", "password": f"guess{n}"},
                              headers={"X-Forwarded-For": f"198.51.100.{n % 250}"})
            assert r.status_code in (401, 429), r.text
            guessed.append(r.status_code == 401)
    assert sum(guessed) == 5  # five guesses for the address, whatever the header says
    with _client(served, "127.0.0.2") as clerk:  # the real user, from their own address
        assert clerk.post("/api/auth/token",
                          data={"username": "clerk", "password": PASSWORD}).status_code == 200


def test_the_first_sign_in_makes_the_dummy_hash_whatever_the_name(tmp_path, counting) -> None:
    """Else the first unknown name would cost one hash more than a known one, telling it apart."""
    db = connect(db_url(tmp_path / 'okno.db'))
    add_user(db, "clerk", PASSWORD, "clerk", "org")
    assert accounts._dummy_hash is None  # a new hasher: no dummy yet
    sign_in(db, "clerk", PASSWORD, "10.0.0.7", LoginLimiter(db), PasswordChecks(1))
    assert accounts._dummy_hash is not None
    assert argon2.extract_parameters(accounts._dummy_hash) == argon2.extract_parameters(
        counting.hash("x"))

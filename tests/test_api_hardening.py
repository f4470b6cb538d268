"""HTTP API hardening: the replayed `Location`, Idempotency-Keys that expire (and the worker
forgetting them), and sign-in throttling. Time moves by the injected clocks, never by sleeping."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from api.app import create_app
from api.auth import LoginLimiter
from api.problems import ApiError
from api.schemas import CaseCreate
from engine import idempotency as keys
from engine.runtime.scheduler import sweep
from engine.settings import Settings, SettingsError
from engine.store.tables import cases, idempotency, signin_attempts
from tests.test_api_support import PASSWORD, Api, TestClient, Ticker, _services, catalog, task_data


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def _create_body(number: str | None = None) -> dict:
    proc = catalog()[number or next(iter(catalog()))]
    body = {"number": proc.number, "applicant": "ivan", "channel": proc.channels[0]}
    if proc.fee.kind == "by_category":
        body["category"] = proc.fee.categories[0].id
    return body


def _store_key(api: Api, key: str, at, digest: str = "h", status: int = 200) -> None:
    """A row of the key store as a request stored it (status 0: an older okno's reservation)."""
    with api.db.begin() as conn:
        conn.execute(insert(idempotency).values(user="clerk", key=key, route="POST /api/cases",
                                                request_hash=digest, status_code=status,
                                                response_body=None if status == 0 else b"{}",
                                                created_at=at))


def _keys(api: Api) -> set[str]:
    with api.db.connect() as conn:
        return set(conn.execute(select(idempotency.c.key)).scalars())


# ------------------------------------------------------------------------- Location on replay

def test_a_replayed_case_creation_has_the_same_location(api: Api) -> None:
    body, key = _create_body(), {"Idempotency-Key": "create-loc"}
    first = api.post("/api/cases", json=body, headers=key)
    again = api.post("/api/cases", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert first.headers["location"] == again.headers["location"] == f"/api/cases/{first.json()['id']}"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert api.get(again.headers["location"]).status_code == 200


def test_a_replayed_completion_has_no_location(api: Api) -> None:
    number = next(iter(catalog()))
    case = api.start(number)
    api.present_documents(case["id"], number)
    task = case["tasks"][0]
    url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    body, key = {"data": task_data(catalog()[number], task)}, {"Idempotency-Key": "done-loc"}
    first, again = (api.post(url, json=body, headers=key) for _ in range(2))
    assert first.status_code == again.status_code == 200 and again.content == first.content
    assert "location" not in again.headers and again.headers["idempotent-replayed"] == "true"


# ------------------------------------------------------------------------- keys expire

def test_a_key_is_replayed_within_the_retention_and_new_after_it(api: Api) -> None:
    body, key = _create_body(), {"Idempotency-Key": "expires"}
    first = api.post("/api/cases", json=body, headers=key)
    api.clock.advance(hours=23, minutes=59)
    assert api.post("/api/cases", json=body, headers=key).headers["idempotent-replayed"] == "true"
    assert api.count(cases) == 1
    api.clock.advance(minutes=2)  # 24 h and a minute: the key is forgotten
    fresh = api.post("/api/cases", json=body, headers=key)
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"] and api.count(cases) == 2
    # the fresh request claimed the key anew: it replays from now on
    again = api.post("/api/cases", json=body, headers=key)
    assert again.json()["id"] == fresh.json()["id"] and again.headers["location"].endswith(
        fresh.json()["id"])


def test_an_expired_key_may_carry_a_different_request(api: Api) -> None:
    key = {"Idempotency-Key": "reused"}
    assert api.post("/api/cases", json=_create_body(), headers=key).status_code == 201
    other = {**_create_body(), "applicant": "petr"}
    assert api.post("/api/cases", json=other, headers=key).status_code == 422  # still remembered
    api.clock.advance(hours=25)
    r = api.post("/api/cases", json=other, headers=key)
    assert r.status_code == 201 and r.json()["applicant"] == "petr"


def test_a_reservation_of_an_older_okno_is_released_by_expiry(api: Api) -> None:
    """Before answers moved into the command's transaction, a process killed between the two
    left status 0 (409 on retry): such a row still answers 409, and after the retention period
    the key acts as new."""
    request = CaseCreate(**_create_body()).model_dump(mode="json")  # as the route hashes it
    _store_key(api, "stuck", api.clock.now(), keys.request_hash("POST /api/cases", request), 0)
    assert api.post("/api/cases", json=_create_body(),
                    headers={"Idempotency-Key": "stuck"}).status_code == 409
    api.clock.advance(hours=25)
    assert api.post("/api/cases", json=_create_body(),
                    headers={"Idempotency-Key": "stuck"}).status_code == 201


def test_the_retention_is_read_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OKNO_IDEMPOTENCY_HOURS", "2")
    api = Api(tmp_path)
    assert api.services.settings.idempotency_retention == timedelta(hours=2)
    monkeypatch.setenv("OKNO_IDEMPOTENCY_HOURS", "48")  # read once, at the start: no effect
    body, key = _create_body(), {"Idempotency-Key": "short"}
    api.post("/api/cases", json=body, headers=key)
    api.clock.advance(hours=1)
    assert api.post("/api/cases", json=body, headers=key).headers["idempotent-replayed"] == "true"
    api.clock.advance(hours=1, seconds=1)
    assert "idempotent-replayed" not in api.post("/api/cases", json=body, headers=key).headers


@pytest.mark.parametrize("bad", ["soon", "0", "-3", "1.5"])
def test_an_unusable_retention_stops_the_start(tmp_path, monkeypatch, bad) -> None:
    monkeypatch.setenv("OKNO_IDEMPOTENCY_HOURS", bad)
    with pytest.raises(SettingsError, match=f"OKNO_IDEMPOTENCY_HOURS='{bad}'"):
        Api(tmp_path)
    monkeypatch.setenv("OKNO_IDEMPOTENCY_HOURS", "")  # empty: unset, the default
    assert Settings().idempotency_retention == timedelta(hours=24)


def test_the_worker_purges_expired_keys(api: Api) -> None:
    body = _create_body()
    api.post("/api/cases", json=body, headers={"Idempotency-Key": "old"})
    api.clock.advance(hours=12)
    api.post("/api/cases", json=body, headers={"Idempotency-Key": "young"})
    sweep(api.services.cases)
    assert _keys(api) == {"old", "young"}
    api.clock.advance(hours=12, seconds=1)  # "old" is 24 h and a second old, "young" 12 h
    sweep(api.services.cases)
    assert _keys(api) == {"young"}
    api.clock.advance(hours=12)
    sweep(api.services.cases)
    assert _keys(api) == set()


def test_the_worker_purges_by_the_retention_it_is_given(api: Api) -> None:
    api.post("/api/cases", json=_create_body(), headers={"Idempotency-Key": "k"})
    api.clock.advance(hours=2, seconds=1)
    sweep(api.services.cases)
    assert _keys(api) == {"k"}
    sweep(api.services.cases, timedelta(hours=2))
    assert _keys(api) == set()


def test_purge_keys_works_in_batches(api: Api) -> None:
    start = api.clock.now()
    for i in range(25):
        _store_key(api, f"k{i:02}", start + timedelta(minutes=i))
    cutoff = start + timedelta(minutes=23)  # k00 … k22 are older
    assert keys.purge_keys(api.db, cutoff, batch=10) == 23
    assert _keys(api) == {"k23", "k24"}
    assert keys.purge_keys(api.db, cutoff, batch=10) == 0
    assert keys.purge_keys(api.db, start + timedelta(hours=1), batch=2) == 2


# ------------------------------------------------------------------------- sign-in throttling

@pytest.fixture
def ticker(api: Api) -> Ticker:
    return api.throttle_on(Ticker())


def _throttled(r) -> int:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 429 and body["field"] == "username" and body["detail"]
    return int(r.headers["retry-after"])


def test_five_failures_lock_the_name_until_the_window_passes(api: Api, ticker: Ticker) -> None:
    for _ in range(5):
        assert api.sign_in_form("clerk", "wrong").status_code == 401
        ticker.t += 60  # failures at 0, 1, 2, 3 and 4 minutes; now is 5 minutes
    assert _throttled(api.sign_in_form("clerk", PASSWORD)) == 10 * 60  # even the right password
    assert _throttled(api.sign_in_form("Clerk", "wrong")) == 10 * 60  # names are case-insensitive
    assert api.sign_in_form("supervisor", PASSWORD).status_code == 200  # other names are not held up
    ticker.t += 10 * 60 - 1
    assert _throttled(api.sign_in_form("CLERK", PASSWORD)) == 1
    ticker.t += 1  # 15 minutes since the first failure: the window is over, a new one begins
    for _ in range(5):
        assert api.sign_in_form("clerk", "wrong").status_code == 401
    assert _throttled(api.sign_in_form("clerk", PASSWORD)) == 15 * 60  # from the new window's first
    ticker.t += 15 * 60
    assert api.sign_in_form("clerk", PASSWORD).status_code == 200


def test_a_successful_sign_in_clears_the_failures(api: Api, ticker: Ticker) -> None:
    for _ in range(4):
        assert api.sign_in_form("clerk", "wrong").status_code == 401
    assert api.sign_in_form("CLERK", "wrong").status_code == 401  # the same name's fifth failure
    assert api.sign_in_form("clerk", PASSWORD).status_code == 429
    ticker.t += 15 * 60
    assert api.sign_in_form("clerk", PASSWORD).status_code == 200
    for _ in range(4):
        assert api.sign_in_form("clerk", "wrong").status_code == 401
    assert api.sign_in_form("clerk", PASSWORD).status_code == 200  # clears the four
    for _ in range(5):
        assert api.sign_in_form("clerk", "wrong").status_code == 401
    assert api.sign_in_form("clerk", "wrong").status_code == 429


def test_unknown_names_are_throttled_like_known_ones(api: Api, ticker: Ticker) -> None:
    for _ in range(5):
        assert api.sign_in_form("nobody", "guess").status_code == 401
    _throttled(api.sign_in_form("nobody", "guess"))


def test_the_limiter_keys_a_long_name_by_its_hash_case_folded(api: Api) -> None:
    limiter = LoginLimiter(api.db, attempts=2, window=60, clock=lambda: 0.0)
    limiter.attempt("y" * 100_000)
    limiter.attempt("Y" * 100_000)  # the same name, case-folded
    with pytest.raises(ApiError) as refused:
        limiter.attempt("y" * 100_000)
    assert refused.value.status == 429
    with api.db.connect() as conn:
        keys = conn.execute(select(signin_attempts.c.key)).scalars().all()
    assert len(keys) == 3 and all(len(k) <= 200 for k in keys)


def test_one_address_cannot_lock_a_name_out_for_the_others(api: Api) -> None:
    limiter = LoginLimiter(api.db, attempts=5, name_attempts=12, window=60, clock=lambda: 0.0)
    for _ in range(5):
        limiter.attempt("clerk", "203.0.113.9")
    with pytest.raises(ApiError) as refused:
        limiter.attempt("Clerk", "203.0.113.9")
    assert refused.value.status == 429
    limiter.attempt("clerk", "10.0.0.7")  # the clerk at their own desk signs in
    limiter.succeeded("clerk", "10.0.0.7")
    with pytest.raises(ApiError):  # the stranger is still held back
        limiter.attempt("clerk", "203.0.113.9")
    # A guess spread over many addresses meets the limit over all of them (6 counted so far).
    for n in range(6):
        limiter.attempt("clerk", f"198.51.100.{n}")
    with pytest.raises(ApiError) as refused:
        limiter.attempt("clerk", "10.0.0.7")
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) == 60


def test_the_429_is_documented(api: Api) -> None:
    responses = api.app.openapi()["paths"]["/api/auth/token"]["post"]["responses"]
    assert {"200", "401", "422", "429"} <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]


def test_one_limit_for_every_application_on_a_database(tmp_path) -> None:
    """Two apps (server processes) on one database share the counts; another database does not."""
    one, other = Api(tmp_path / "one"), Api(tmp_path / "other")
    two = TestClient(create_app(services_=_services(tmp_path / "one" / "okno.db", one.clock)),
                     raise_server_exceptions=False)
    for n in range(5):
        process = one.client if n % 2 else two  # the guesses alternate between the processes
        assert process.post("/api/auth/token", data={"username": "clerk",
                                                     "password": "wrong"}).status_code == 401
    for process in (one.client, two):
        refused = process.post("/api/auth/token", data={"username": "clerk", "password": PASSWORD})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 15 * 60 - 60
    assert other.sign_in_form("clerk", PASSWORD).status_code == 200

"""Authentication: OAuth2 password flow issuing signed, expiring JWTs (HS256).

The token carries the user's name (`sub`), role and organisation. A token is good for the
`token_minutes` setting (`OKNO_TOKEN_MINUTES`, default 60), but every request also checks the account behind it
(`AccountCheck`): the account must exist, not be disabled, still have the token's role and
organisation, and not have changed its credentials (password, disabling) after the token was
issued; otherwise 401. The account's few columns are read by primary key on every request (one
prepared statement, `engine.accounts.AccountReader`), never cached: a change made by `okno user
...` takes effect on the next request in every server process, on every host.
Tokens use wall-clock time, not the injected domain clock: moving the clock in tests must not
expire or revive credentials.

The signing secret is the `secret_key` setting (`OKNO_SECRET_KEY`); without it a random one is
created once in `secret_file` (default `var/secret.key`, mode 0600 whatever the umask, created
atomically), and
`okno serve` hands the key it read to every worker process.

Password guessing is throttled per user name and client address (`LoginLimiter`): after 5 failed
sign-ins within 15 minutes from one address, that address is refused for that name with 429
until the window that began with the first of them ends; after 100 failures from all addresses
together, the name is refused for everyone (distributed guessing); after 50 failures from one
address whatever the names, the address is refused (random names cost a hash each too). Counting
per address keeps one stranger from locking a clerk out with five wrong passwords. The client
address is the connection's: `X-Forwarded-For` counts only from the `trusted_proxies` setting's
addresses (uvicorn's proxy headers, configured by api/serve.py; none by default). The counts live
in the database (`engine.signin_throttle`): every server process counts against the same limits,
and a restart forgets nothing. The numbers are the `signin_*` settings.

At most `signin_hashes` passwords are hashed at once per process (`PasswordChecks`); an attempt
beyond them is refused at once with 429, so a flood of sign-ins cannot exhaust the memory (argon2
takes ~64 MiB a hash) or the processor the signed-in users need.

Applicants sign up themselves (`sign_up`, engine.applicants): at most `signup_attempts` attempts
per client address within `signup_window_minutes` (`SignUpLimiter`, per process like the
sign-in counts), and each hashes its password in one of the same `PasswordChecks` slots.
"""
from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from api.problems import ApiError, unauthenticated
from engine import applicants
from engine.accounts import (
    ROLES,
    Account,
    AccountReader,
    User,
    make_dummy_hash,
    verify_password,
)
from engine.applicants import Applicant
from engine.private_files import create_private_file
from engine.settings import Settings
from engine.signin_throttle import SignInThrottle, address_key

ALGORITHM = "HS256"
ISSUER = "okno"
# The settings' defaults, for callers that pass no settings (tests, tools).
TOKEN_MINUTES: int = Settings.model_fields["token_minutes"].default


def load_secret(settings: Settings) -> str:
    """The `secret_key` setting, or the secret in `secret_file` (created with a random value if
    absent)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    file = Path(settings.secret_file)
    try:
        fd = create_private_file(file)  # 0600 whatever the umask, a new folder 0700
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            text = file.read_text(encoding="ascii").strip()
            if text:
                return text
            time.sleep(0.02)
        raise RuntimeError(f"{file} is empty; delete it or set OKNO_SECRET_KEY") from None
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value + "\n")
    return value


def issue_token(user: User, secret: str, minutes: int = TOKEN_MINUTES) -> tuple[str, int]:
    """A signed token for `user`, good for `minutes`, and its lifetime in seconds."""
    lifetime = 60 * minutes
    now = int(time.time())
    claims = {"sub": user.name, "role": user.role, "org": user.org, "iss": ISSUER,
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), lifetime


def read_token(token: str, secret: str) -> tuple[User, int]:
    """The user a token names and when it was issued (`iat`, epoch seconds); 401 if it is
    forged, expired or malformed. Whether the account still accepts it is `AccountCheck`'s."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise unauthenticated("the token has expired; request a new one") from None
    except jwt.PyJWTError:
        raise unauthenticated("the token is not valid") from None
    name, role, org, iat = claims.get("sub"), claims.get("role"), claims.get("org"), claims["iat"]
    if not (isinstance(name, str) and role in ROLES and isinstance(org, str)
            and type(iat) in (int, float) and math.isfinite(iat)):
        raise unauthenticated("the token is not valid")
    return User(name, role, org), math.floor(iat)


# ------------------------------------------------------------------------- account revocation

REVOKED = "the token is no longer valid; sign in again"


def token_state(account: Account | None) -> tuple[str, str, int] | None:
    """What a token is checked against: (role, org, earliest iat), or None if the account
    accepts no token (gone or disabled).

    `iat` has 1-second resolution (it is floored), so a token is current when its `iat` is at
    least the floored time of the last credentials change: a sign-in right after a password
    change is accepted, a token from an earlier second is not. (A token issued in the same second
    just before the change is accepted too; disabling does not rely on this rule.)"""
    if account is None or account.disabled:
        return None
    changed = account.credentials_changed_at
    return account.role, account.org, math.floor(changed.timestamp()) if changed else 0


def accepts(state: tuple[str, str, int] | None, user: User, iat: int) -> bool:
    """Whether an account in `state` (see `token_state`) accepts a token for `user` issued at
    `iat`."""
    return (state is not None and state[0] == user.role and state[1] == user.org
            and iat >= state[2])


class AccountCheck:
    """Whether the account behind a token still accepts it, read from the database on every
    request (by primary key: `engine.accounts.AccountReader`), so a revocation is seen at once by
    every process. The read runs in the thread pool: on PostgreSQL it is a network round trip,
    which must not stall the event loop."""

    def __init__(self, db: Any) -> None:
        self.accounts = AccountReader(db)

    def load(self, name: str) -> tuple[str, str, int] | None:
        """The state of the account `name` (see `token_state`)."""
        return token_state(self.accounts.get(name))

    async def check(self, user: User, iat: int) -> None:
        """401 unless the account of `user` still accepts a token issued at `iat`."""
        if not accepts(await run_in_threadpool(self.load, user.name), user, iat):
            raise unauthenticated(REVOKED)


def account_check(request: Request) -> AccountCheck:
    """The application's account check, made on first use; tests may set their own."""
    state = request.app.state
    check = getattr(state, "account_check", None)
    if check is None:
        check = state.account_check = AccountCheck(state.okno.db)
    return check


_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(request: Request,
                       token: Annotated[str | None, Depends(_bearer)]) -> User:
    """The authenticated caller (dependency); 401 without a valid bearer token, or when its
    account no longer accepts it.

    Async on purpose: it checks a signature in the event loop and reads the account in the
    thread pool."""
    if not token:
        raise unauthenticated("sign in: send 'Authorization: Bearer <token>' "
                              "(POST /api/auth/token)")
    user, iat = read_token(token, request.app.state.okno.secret)
    await account_check(request).check(user, iat)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(user: User, *roles: str) -> None:
    """403 unless the caller has one of `roles`."""
    if user.role not in roles:
        raise ApiError(403, f"the {user.role} role may not do this; allowed: {', '.join(roles)}")


# ------------------------------------------------------------------------------------ sign-in

class LoginLimiter:
    """Failed sign-ins per user name (case-insensitive) and client address, counted in the
    database (`engine.signin_throttle.SignInThrottle`): one limit for every server process.

    Every attempt counts as failed until `succeeded` clears it, so concurrent guesses cannot slip
    past the count. `attempt` refuses with 429 and `Retry-After` (even with the right password)
    until the counter's window ends, once there were `attempts` failures for a name from one
    client, `name_attempts` for a name from all clients together, or `address_attempts` from one
    client whatever the names. Time is `clock()` wall-clock seconds, like tokens (tests pass
    their own)."""

    def __init__(self, db: Any, attempts: int = 5, window: float = 15 * 60,
                 clock: Callable[[], float] = time.time, name_attempts: int = 100,
                 address_attempts: int = 50) -> None:
        self.throttle = SignInThrottle(db, attempts, window, name_attempts=name_attempts,
                                       address_attempts=address_attempts, clock=clock)

    @classmethod
    def from_settings(cls, db: Any, settings: Settings,
                      clock: Callable[[], float] = time.time) -> LoginLimiter:
        return cls(db, settings.signin_attempts, 60.0 * settings.signin_window_minutes, clock,
                   name_attempts=settings.signin_name_attempts,
                   address_attempts=settings.signin_address_attempts)

    def attempt(self, name: str, client: str = "") -> None:
        """Count an attempt to sign in as `name` from `client`; 429 when any of its counts has
        failed too often."""
        held = self.throttle.attempt(name, client)
        if held is not None:
            whom = "this user name" if held.by_name else "this address"
            raise ApiError(429, f"too many failed sign-ins for {whom}; "
                                f"try again in {held.wait} seconds",
                           field="username" if held.by_name else None,
                           title="Too many requests", headers={"Retry-After": str(held.wait)})

    def succeeded(self, name: str, client: str = "") -> None:
        """`name` signed in from `client`: forget that client's failures for it, and that this
        attempt counted against the address (an office behind one address signs in all day).
        The count for the name over all clients stays: it is what slows a guess spread over many
        addresses."""
        self.throttle.succeeded(name, client)


BUSY_SECONDS = 1


class SignInBusy(ApiError):
    """Every hashing slot is taken (429): nobody's fault, try again in `BUSY_SECONDS`."""

    def __init__(self) -> None:
        super().__init__(429, "the server is busy checking other sign-ins; try again in "
                              f"{BUSY_SECONDS} second", title="Too many requests",
                         headers={"Retry-After": str(BUSY_SECONDS)})


class PasswordChecks:
    """At most `limit` password hashes computed at once in this process.

    A hash takes ~64 MiB and a few tenths of a second of every core (argon2's defaults), so an
    unbounded number of sign-ins at once, each from a fresh address with a fresh name, would
    exhaust the memory and starve every other request. An attempt finding every slot taken is
    refused at once (429, `Retry-After: 1`) and counts for no limit: it cost nothing."""

    def __init__(self, limit: int = Settings.model_fields["signin_hashes"].default) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise SignInBusy
        try:
            yield
        finally:
            self._slots.release()


def sign_in(db: Any, name: str, password: str, client: str, limiter: LoginLimiter,
            checks: PasswordChecks) -> User:
    """The user `name` if `password` is theirs; 429 while `limiter` holds `name` or `client`
    back or every hashing slot is taken, else 401 on a wrong name or password."""
    with checks.slot():
        limiter.attempt(name, client)
        make_dummy_hash()  # once per process, whatever the name: the first unknown one costs no more
        user = verify_password(db, name, password)
    if user is None:
        raise unauthenticated("wrong user name or password")
    limiter.succeeded(name, client)
    return user


async def login_limiter(request: Request) -> LoginLimiter:
    """The application's limiter (dependency), made on first use; tests may set their own."""
    state = request.app.state
    limiter = getattr(state, "login_limiter", None)
    if limiter is None:
        limiter = state.login_limiter = LoginLimiter.from_settings(state.okno.db, state.okno.settings)
    return limiter


async def password_checks(request: Request) -> PasswordChecks:
    """The application's hashing slots (dependency), made on first use."""
    state = request.app.state
    checks = getattr(state, "password_checks", None)
    if checks is None:
        checks = state.password_checks = PasswordChecks(state.okno.settings.signin_hashes)
    return checks


# ------------------------------------------------------------------------------------ sign-up

class SignUpLimiter:
    """Applicant accounts made per client address (its /64 for IPv6, as `LoginLimiter` counts),
    in this process's memory: at most `attempts` within `window` seconds, then 429 with
    `Retry-After` until the oldest leaves the window. Every attempt counts, made or refused (a
    refused name is a probe too). At most `capacity` addresses are kept; the one whose last
    attempt is oldest is dropped first."""

    def __init__(self, attempts: int = 5, window: float = 60 * 60, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window, self.capacity, self.clock = attempts, window, capacity, clock
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SignUpLimiter:
        return cls(settings.signup_attempts, 60.0 * settings.signup_window_minutes)

    def attempt(self, client: str) -> None:
        key, now = address_key(client), self.clock()
        with self._lock:
            seen = self._attempts.get(key)
            if seen is None:
                seen = self._attempts[key] = deque(maxlen=self.attempts)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.attempts:
                wait = max(1, math.ceil(seen[0] + self.window - now))
                raise ApiError(429, f"too many sign-ups from this address; try again in {wait} "
                                    "seconds", title="Too many requests",
                               headers={"Retry-After": str(wait)})
            seen.append(now)
            self._attempts.move_to_end(key)
            while len(self._attempts) > self.capacity:
                self._attempts.popitem(last=False)


def sign_up(db: Any, name: str | None, password: str | None, email: str | None, client: str,
            limiter: SignUpLimiter, checks: PasswordChecks) -> Applicant:
    """A new applicant account; 429 while `limiter` holds `client` back or every hashing slot
    is taken; the engine's InvalidInput or Conflict names the field at fault."""
    with checks.slot():
        limiter.attempt(client)
        return applicants.sign_up(db, name, password, email)


async def signup_limiter(request: Request) -> SignUpLimiter:
    """The application's sign-up limiter (dependency), made on first use; tests may set their own."""
    state = request.app.state
    limiter = getattr(state, "signup_limiter", None)
    if limiter is None:
        limiter = state.signup_limiter = SignUpLimiter.from_settings(state.okno.settings)
    return limiter

"""Authentication: OAuth2 password flow issuing signed, expiring JWTs (HS256).

The token carries the user's name (`sub`), role and organisation, so a request is authorised
without a database read. The price: a changed role or a removed user takes effect when the
token expires (`OKNO_TOKEN_MINUTES`, default 60). Tokens use wall-clock time, not the injected
domain clock: moving the clock in tests must not expire or revive credentials.

The signing secret is `OKNO_SECRET_KEY`; without it a random one is created once in
`var/secret.key` (mode 0600, created atomically) so every worker process agrees on it.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.problems import ApiError, unauthenticated
from engine.accounts import ROLES, User

ALGORITHM = "HS256"
ISSUER = "okno"
DEFAULT_SECRET_FILE = Path("var/secret.key")


def load_secret(path: str | os.PathLike[str] | None = None) -> str:
    """OKNO_SECRET_KEY, or the secret in `path` (created with a random value if absent)."""
    env = os.environ.get("OKNO_SECRET_KEY")
    if env:
        return env
    file = Path(path or os.environ.get("OKNO_SECRET_FILE") or DEFAULT_SECRET_FILE)
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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


def token_minutes() -> int:
    try:
        return max(1, int(os.environ.get("OKNO_TOKEN_MINUTES", "60")))
    except ValueError:
        return 60


def issue_token(user: User, secret: str, minutes: int | None = None) -> tuple[str, int]:
    """A signed token for `user` and its lifetime in seconds."""
    lifetime = 60 * (minutes or token_minutes())
    now = int(time.time())
    claims = {"sub": user.name, "role": user.role, "org": user.org, "iss": ISSUER,
              "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), lifetime


def read_token(token: str, secret: str) -> User:
    """The user a token names; 401 if it is forged, expired or malformed."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise unauthenticated("the token has expired; request a new one") from None
    except jwt.PyJWTError:
        raise unauthenticated("the token is not valid") from None
    name, role, org = claims.get("sub"), claims.get("role"), claims.get("org")
    if not (isinstance(name, str) and role in ROLES and isinstance(org, str)):
        raise unauthenticated("the token is not valid")
    return User(name, role, org)


_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def current_user(request: Request,
                       token: Annotated[str | None, Depends(_bearer)]) -> User:
    """The authenticated caller (dependency); 401 without a valid bearer token.

    Async on purpose: it only checks a signature, and a sync dependency would cost a hop to
    the thread pool on every request."""
    if not token:
        raise unauthenticated("sign in: send 'Authorization: Bearer <token>' "
                              "(POST /api/auth/token)")
    return read_token(token, request.app.state.okno.secret)


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(user: User, *roles: str) -> None:
    """403 unless the caller has one of `roles`."""
    if user.role not in roles:
        raise ApiError(403, f"the {user.role} role may not do this; allowed: {', '.join(roles)}")

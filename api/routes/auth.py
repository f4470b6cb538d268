"""Signing in: the OAuth2 password flow, and who the caller is."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from api.auth import CurrentUser, LoginLimiter, PasswordChecks, issue_token, login_limiter, password_checks, sign_in
from api.deps import Services, json_response, services
from api.schemas import Me, Token, errors

router = APIRouter(prefix="/api", tags=["auth"])

_THROTTLED = {**errors(429)[429],
              "description": "Too many failed sign-ins for this user name (5 in 15 minutes from "
                             "one address, or 100 from all addresses) or from this address (50, "
                             "whatever the names), counted for all server processes together; "
                             "or the server is checking as many passwords as it may at once",
              "headers": {"Retry-After": {"description": "seconds until the next attempt",
                                          "schema": {"type": "integer"}}}}


class SignInForm:
    """The OAuth2 password grant's form fields (RFC 6749 §4.3.2), as the API accepts them: a
    name and a password, each at least one character (an empty field is refused like a missing
    one, and the document says so); other OAuth2 fields (scope, client_id) are ignored."""

    def __init__(self, username: Annotated[str, Form(min_length=1, max_length=1024)],
                 password: Annotated[str, Form(min_length=1, max_length=4096)],
                 grant_type: Annotated[str, Form(pattern="^password$")] = "password") -> None:
        self.username, self.password = username, password


@router.post("/auth/token", response_model=Token, responses={**errors(401), 429: _THROTTLED})
def token(request: Request, form: Annotated[SignInForm, Depends()],
          svc: Annotated[Services, Depends(services)],
          limiter: Annotated[LoginLimiter, Depends(login_limiter)],
          checks: Annotated[PasswordChecks, Depends(password_checks)]):
    """Exchange a user name and password (form fields) for a bearer token. After 5 failed
    attempts for a user name within 15 minutes from one address (or 100 from all addresses, or
    50 from one address whatever the names), further attempts are refused (429, `Retry-After`);
    so are attempts while the server checks as many passwords as it may at once."""
    client = request.client.host if request.client else ""
    user = sign_in(svc.db, form.username, form.password, client, limiter, checks)
    access, lifetime = issue_token(user, svc.secret, svc.settings.token_minutes)
    return json_response({"access_token": access, "token_type": "bearer", "expires_in": lifetime})


@router.get("/me", response_model=Me, responses=errors(401))
def me(user: CurrentUser):
    """The signed-in user: name, role and organisation."""
    return json_response({"name": user.name, "role": user.role, "org": user.org})

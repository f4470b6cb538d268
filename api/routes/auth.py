"""Signing in: the OAuth2 password flow, and who the caller is."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import CurrentUser, LoginLimiter, issue_token, login_limiter
from api.deps import Services, json_response, services
from api.problems import unauthenticated
from api.schemas import Me, Token, errors
from engine.accounts import verify_password

router = APIRouter(prefix="/api", tags=["auth"])

_THROTTLED = {**errors(429)[429],
              "description": "Too many failed sign-ins for this user name (5 in 15 minutes from "
                             "one address, or 100 from all addresses; counted per server process)",
              "headers": {"Retry-After": {"description": "seconds until the next attempt",
                                          "schema": {"type": "integer"}}}}


@router.post("/auth/token", response_model=Token, responses={**errors(401), 429: _THROTTLED})
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          svc: Annotated[Services, Depends(services)],
          limiter: Annotated[LoginLimiter, Depends(login_limiter)]):
    """Exchange a user name and password (form fields) for a bearer token. After 5 failed
    attempts for a user name within 15 minutes from one address (or 100 from all addresses),
    further attempts are refused (429, `Retry-After`)."""
    client = request.client.host if request.client else ""
    limiter.attempt(form.username, client)
    user = verify_password(svc.db, form.username, form.password)
    if user is None:
        raise unauthenticated("wrong user name or password")
    limiter.succeeded(form.username, client)
    access, lifetime = issue_token(user, svc.secret, svc.settings.token_minutes)
    return json_response({"access_token": access, "token_type": "bearer", "expires_in": lifetime})


@router.get("/me", response_model=Me, responses=errors(401))
def me(user: CurrentUser):
    """The signed-in user: name, role and organisation."""
    return json_response({"name": user.name, "role": user.role, "org": user.org})

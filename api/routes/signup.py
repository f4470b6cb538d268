"""Signing up: a citizen makes their own applicant account (organisation `citizens`)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.auth import PasswordChecks, SignUpLimiter, password_checks, sign_up, signup_limiter
from api.deps import Services, json_response, services
from api.json_body import StrictJsonRoute
from api.schemas import Request as Body
from api.schemas import checked_by_engine, errors
from engine.applicants import MAX_EMAIL, MAX_PASSWORD

router = APIRouter(prefix="/api", route_class=StrictJsonRoute, tags=["auth"])

_THROTTLED = {**errors(429)[429],
              "description": "Too many sign-ups from this address (5 an hour by default, counted "
                             "per server process), or the server is checking as many passwords "
                             "as it may at once",
              "headers": {"Retry-After": {"description": "seconds until the next attempt",
                                          "schema": {"type": "integer"}}}}


class SignUpIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=64,
                               description="3 to 64 letters, digits, '.', '_' or '-'")]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD,
                                   description="at least 8 characters")]
    email: Annotated[str, Field(min_length=1, max_length=MAX_EMAIL,
                                description="where notices go by default")] | None = None


class ApplicantOut(BaseModel):
    name: str
    role: str
    org: str
    email: str | None


@router.post("/signup", status_code=201, response_model=ApplicantOut,
             responses={**errors(409), 429: _THROTTLED},
             openapi_extra=checked_by_engine("name", "password", "email"))
def signup(request: Request, body: SignUpIn, svc: Annotated[Services, Depends(services)],
           limiter: Annotated[SignUpLimiter, Depends(signup_limiter)],
           checks: Annotated[PasswordChecks, Depends(password_checks)]):
    """Make an applicant account (then sign in with `POST /api/auth/token`). A name that is
    taken is 409 naming `name`; at most 5 sign-ups an hour from one address (429)."""
    client = request.client.host if request.client else ""
    made = sign_up(svc.db, body.name, body.password, body.email, client, limiter, checks)
    user = made.user
    return json_response({"name": user.name, "role": user.role, "org": user.org,
                          "email": made.email}, 201)

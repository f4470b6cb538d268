"""Who may see and do what: the authorisation rules of the HTTP API in one place.

Roles: analyst, clerk, supervisor, applicant, auditor; every user belongs to one organisation
(an authority code, the same as `cases.authority`).

* clerk, supervisor: see and act on the cases of their own organisation only. A case of another
  organisation answers 404, exactly like a case that does not exist, so ids of other
  authorities' cases cannot be probed. A task whose role acts as `supervisor` needs a
  supervisor; a supervisor may also perform clerk tasks (a head can stand in for staff).
* applicant: sees only the cases linked to their account (`applicant_user`: the ones they filed,
  and the ones a clerk registered naming their account; others: 404, even if the applicant's
  name on them is the same); may create
  cases (filed electronically, channel `portal`) and withdraw their own; nothing else (403).
* auditor: reads every case and audit trail of every organisation, changes nothing (403).
* analyst: reads procedures and the catalog diff; cases are not theirs (403).

Figures (quality ratings, their registers and monitoring, reports): a supervisor reads those of
their own organisation and of every authority below it in the catalog's chain of superior
bodies (the register a superior body keeps); an auditor those of every authority; nobody else
(403). An authority the catalog does not have is 422 naming `authority`.

Order of checks: authentication (401), then the role may use the route at all (403, before the
case is looked up so a 403 leaks nothing), then the case is visible to the caller (404), then
the task-level rule (403).
"""
from __future__ import annotations

from typing import Any

from api.problems import ApiError, forbidden, not_found
from engine.accounts import STAFF, User
from engine.authorities.catalog import AuthorityCatalog
from engine.errors import InvalidInput

CASE_READERS = ("clerk", "supervisor", "applicant", "auditor")
EVENT_READERS = ("clerk", "supervisor", "auditor")
CASE_CREATORS = ("clerk", "supervisor", "applicant")
WITHDRAWERS = ("clerk", "supervisor", "applicant")
DIFF_READERS = ("analyst", "supervisor", "auditor")
FIGURE_READERS = ("supervisor", "auditor")


def can_see(user: User, facts: dict[str, Any]) -> bool:
    if user.role == "auditor":
        return True
    if user.role in STAFF:
        return facts["authority"] == user.org
    if user.role == "applicant":
        return facts["applicant_user"] == user.name
    return False


def visible_case(user: User, facts: dict[str, Any] | None, case_id: str) -> dict[str, Any]:
    """The case's facts if the caller may see it; 404 otherwise (absent and foreign alike)."""
    if facts is None or not can_see(user, facts):
        raise not_found(f"case {case_id} does not exist", field="case_id")
    return facts


def may_perform(user: User, task: dict[str, Any] | None, task_id: str) -> None:
    """A task of the case that the caller's role may perform (supervisor tasks need a supervisor)."""
    if task is None:
        raise not_found(f"task {task_id} does not exist in this case", field="task_id")
    if task["acts_as"] == "supervisor" and user.role != "supervisor":
        raise forbidden("this step is performed by a supervisor", field="task_id")


def staff_authority(user: User, requested: str | None) -> str:
    """The authority a staff member registers a case for: their own organisation."""
    if requested is not None and requested != user.org:
        raise ApiError(403, f"you register cases for your own organisation ({user.org})",
                       field="authority")
    return user.org


def may_read_figures(user: User, authority_id: str, catalog: AuthorityCatalog) -> None:
    """The caller may read the figures of `authority_id` (see the module's docstring)."""
    if user.role not in FIGURE_READERS:
        raise ApiError(403, f"the {user.role} role may not read figures; allowed: "
                            f"{', '.join(FIGURE_READERS)}")
    if authority_id not in catalog:
        raise InvalidInput(f"authority {authority_id!r} is not in the authorities catalog",
                           field="authority")
    if user.role == "supervisor" and not catalog.is_within(authority_id, user.org):
        raise forbidden(f"a supervisor reads the figures of {user.org} and of the authorities "
                        "below it", field="authority")

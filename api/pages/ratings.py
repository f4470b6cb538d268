"""Quality ratings as pages: the applicant's form, and the register of a superior body.

- `/cases/{id}/rating` (applicants): the form grading their own ended case once, 1-5 on each of
  the rating portal's four criteria with an optional comment; after it is sent (POST, CSRF
  checked, then a redirect) the page shows the grades given. The same use case as
  `POST /api/cases/{id}/rating` (engine.ratings.grading): a case that is not theirs is "not
  found", one still under way or graded already says so; a wrong value: the form again (422)
  with the error next to its criterion. The applicant's cabinet links here.
- `/ratings` (supervisors, auditors): for an authority and a period, its own figures per
  procedure and the newest comments, the register of every authority below it with positions,
  and the half-year monitoring report (positions then and in the half-year before) with its CSV
  (`/ratings/monitoring.csv`).
"""
from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.pages.figures_form import period_form, readable
from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.ratings import grading, monitoring, register
from engine.ratings.criteria import CRITERIA, HIGHEST, LOWEST, MAX_COMMENT

router = APIRouter(include_in_schema=False)

MAX_ID = 64
READERS = ("supervisor", "auditor")
GRADE_WORDS = {1: "очень плохо", 2: "плохо", 3: "удовлетворительно", 4: "хорошо", 5: "отлично"}


# ------------------------------------------------------------------------------------ the form

@router.get("/cases/{case_id}/rating", response_class=HTMLResponse)
async def rating_form(request: Request, case_id: str) -> Response:
    user = await require_user(request, "applicant")
    return _form(request, user, case_id[:MAX_ID])


@router.post("/cases/{case_id}/rating", response_class=HTMLResponse)
async def rate(request: Request, case_id: str) -> Response:
    user = await require_user(request, "applicant")
    form = await checked_form(request)
    case_id = case_id[:MAX_ID]
    chosen = {c.id: str(form.get(c.id) or "")[:2] for c in CRITERIA}
    comment = str(form.get("comment") or "")[:MAX_COMMENT * 2]
    errors = {c.id: f"Выберите оценку от {LOWEST} до {HIGHEST}." for c in CRITERIA
              if chosen[c.id] not in {str(n) for n in range(LOWEST, HIGHEST + 1)}}
    if not errors:
        svc = request.app.state.okno
        try:
            grading.grade(svc.db, case_id, applicant_user=user.name,
                          grades={k: int(v) for k, v in chosen.items()}, comment=comment,
                          now=svc.cases.now())
        except InvalidInput as exc:
            errors = {exc.field or "comment": _comment_error(exc)}
        except (NotFound, NotAllowed):
            return _form(request, user, case_id)  # says why: not theirs, not ended, graded
        else:
            return RedirectResponse(f"/cases/{case_id}/rating", status_code=303)
    return _form(request, user, case_id, errors=errors, chosen=chosen, comment=comment,
                 status=422)


def _form(request: Request, user: Any, case_id: str, *, errors: dict[str, str] | None = None,
          chosen: dict[str, str] | None = None, comment: str = "", status: int = 200) -> Response:
    svc = request.app.state.okno
    facts = _case(svc, case_id)
    if facts is None or facts["applicant_user"] != user.name:
        return render(request, "rating.html", {"missing": True}, status=404)
    stored = grading.rating_of(svc.db, case_id)
    ended = facts["status"] not in grading.ACTIVE_STATUSES
    return render(request, "rating.html", {
        "missing": False, "case": facts, "stored": stored, "ended": ended,
        "criteria": CRITERIA, "grades": range(LOWEST, HIGHEST + 1), "words": GRADE_WORDS,
        "errors": errors or {}, "chosen": chosen or {}, "comment": comment,
        "max_comment": MAX_COMMENT,
        "labels": {**{c.id: c.title for c in CRITERIA}, "comment": "Отзыв"},
        "given_on": _local(stored["created_at"], svc.clock.zone) if stored else "",
    }, status=status)


def _case(svc: Any, case_id: str) -> dict[str, Any] | None:
    facts = grading.case_to_rate(svc.db, case_id)
    if facts is None:
        return None
    current = svc.versions.current_versions()
    number = facts["number"]
    facts["procedure"] = svc.versions.get(current[number]).name if number in current else ""
    authority = svc.authorities.get().get(facts["authority"])
    facts["authority_name"] = authority.name if authority is not None else facts["authority"]
    return facts


def _local(moment: Any, zone: Any) -> str:
    """A stored UTC moment as the local date and time, 02.12.2026 09:15."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")


def _comment_error(exc: InvalidInput) -> str:
    if exc.field == "comment":
        return (f"Отзыв — не длиннее {MAX_COMMENT} символов, без управляющих символов "
                "и символов смены направления текста.")
    return f"Выберите оценку от {LOWEST} до {HIGHEST}."


# ------------------------------------------------------------------------------------ register

@router.get("/ratings", response_class=HTMLResponse)
async def ratings_page(request: Request) -> Response:
    user = await require_user(request, *READERS)
    svc = request.app.state.okno
    catalog = svc.authorities.get()
    choices = readable(user, catalog)
    form = period_form(request.query_params, user, choices, svc.clock.today(), svc.clock.zone)
    half, half_error = _half(request.query_params, svc.clock.today())
    errors = {**form.errors, **({"half": half_error} if half_error else {})}
    context: dict[str, Any] = {"form": form, "choices": choices, "errors": errors,
                               "criteria": CRITERIA, "half": half}
    if not errors:
        with svc.db.connect() as conn:
            context.update(
                own=register.by_authority(conn, [form.authority], form.within)[form.authority],
                by_procedure=register.by_procedure(conn, form.authority, form.within),
                comments=register.comments(conn, form.authority, form.within),
                items=register.register(conn, catalog, form.authority, form.within),
                monitoring=monitoring.report(conn, catalog, form.authority, half,
                                             svc.clock.zone))
        context["names"] = {n: svc.versions.get(v).name
                            for n, v in svc.versions.current_versions().items()}
        context["authority_name"] = catalog.get(form.authority).name
    return render(request, "ratings.html", context, status=422 if errors else 200)


@router.get("/ratings/monitoring.csv")
async def monitoring_csv(request: Request) -> Response:
    user = await require_user(request, *READERS)
    svc = request.app.state.okno
    catalog = svc.authorities.get()
    form = period_form(request.query_params, user, readable(user, catalog), svc.clock.today(),
                       svc.clock.zone)
    half, half_error = _half(request.query_params, svc.clock.today())
    if form.errors or half_error:
        return await ratings_page(request)
    with svc.db.connect() as conn:
        report = monitoring.report(conn, catalog, form.authority, half, svc.clock.zone)
    name = f"monitoring-{form.authority}-{report['period']}.csv"
    return Response(("\ufeff" + monitoring.as_csv(report)).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _half(query: Any, today: Any) -> tuple[monitoring.HalfYear, str | None]:
    """The half-year asked for as `YYYY-H1` / `YYYY-H2` (default: the one `today` is in)."""
    text = str(query.get("half") or "")[:7]
    default = monitoring.HalfYear(today.year, 1 if today.month <= 6 else 2)
    if not text:
        return default, None
    year, _, half = text.partition("-H")
    try:
        return monitoring.HalfYear(int(year), int(half)), None
    except (ValueError, InvalidInput):
        return default, "Выберите полугодие в виде ГГГГ-H1 или ГГГГ-H2, например 2025-H1."

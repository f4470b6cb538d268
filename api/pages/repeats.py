"""What the clerk sees of repeated appeals on the case page, and the supervisor's two decisions.

`flags(svc, case_id)` is what the case page shows for an appeal (the template `appeal_flags.html`):
the earlier appeals it repeats with links to their pages, the termination of correspondence it
falls under (the only action left is leaving it without consideration on that ground), and the
public answer that answers it. The supervisor's forms are pages of their own, so a refusal shows
next to its field (422) without the case page's code:
`/cases/{id}/terminate-correspondence` (engine.appeal_registers.correspondence.record) and
`/cases/{id}/public-answer` (engine.appeal_registers.public_answers.publish).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.pages.commands import command_error, visible_case
from api.pages.rendering import render
from api.pages.session import checked_form, require_user
from api.problems import ApiError
from engine.appeal_registers import correspondence, identity, public_answers, repeats
from engine.errors import InvalidInput, OknoError

router = APIRouter(include_in_schema=False)
MAX_ID = 64
OUTCOMES = {"satisfied": "удовлетворено", "not_satisfied": "не удовлетворено",
            "explained": "даны разъяснения"}


def flags(svc: Any, case_id: str) -> dict[str, Any] | None:
    """The case page's block for an appeal; None for any other case."""
    with svc.db.connect() as conn:
        if identity.load(conn, case_id) is None:  # not an appeal
            return None
        return {"earlier": repeats.earlier_appeals(conn, case_id),
                "termination": correspondence.termination_for(conn, case_id),
                "public_answer": public_answers.answer_for(conn, case_id),
                "outcomes": OUTCOMES, "leave_ground": correspondence.LEAVE_GROUND}


async def _appeal(request: Request, case_id: str):
    user = await require_user(request, "supervisor")
    svc = request.app.state.okno
    visible_case(svc, user, case_id)  # ApiError 404 for another authority's or a missing case
    return user, svc


def _form(request: Request, name: str, case_id: str, values: dict[str, str],
          errors: dict[str, str], status: int = 200, **extra: Any) -> Response:
    return render(request, name, {"case_id": case_id, "values": values, "errors": errors, **extra},
                  status=status)


@router.get("/cases/{case_id}/terminate-correspondence")
async def terminate_form(request: Request, case_id: str) -> Response:
    case_id = case_id[:MAX_ID]
    try:
        await _appeal(request, case_id)
    except ApiError:
        return render(request, "case_missing.html", {}, status=404)
    return _form(request, "appeal_terminate.html", case_id, {}, {})


@router.post("/cases/{case_id}/terminate-correspondence")
async def terminate(request: Request, case_id: str) -> Response:
    case_id = case_id[:MAX_ID]
    try:
        user, svc = await _appeal(request, case_id)
    except ApiError:
        return render(request, "case_missing.html", {}, status=404)
    form = await checked_form(request)
    ground = str(form.get("ground") or "")[: correspondence.MAX_GROUND + 1]
    try:
        correspondence.record(svc.db, case_id, ground, actor=user.name, now=svc.cases.now())
    except InvalidInput:
        error, status = (f"Укажите основание: от 1 до {correspondence.MAX_GROUND} символов, без "
                         "управляющих знаков."), 422
    except OknoError as exc:
        error, status = _refusal(exc), 409
    else:
        return RedirectResponse(f"/cases/{case_id}?done=terminate", status_code=303)
    return _form(request, "appeal_terminate.html", case_id, {"ground": ground.strip()},
                 {"ground": error}, status)


def _refusal(exc: OknoError) -> str:
    if "repeats no answered appeal" in exc.detail:
        return ("Прекратить переписку можно только по вопросу, на который заявителю уже "
                "отвечали по существу: это обращение не повторяет ни одного отвеченного.")
    if "already" in exc.detail:
        return "По этому обращению переписка уже прекращена."
    if "anonymous" in exc.detail:
        return "У анонимного обращения нет заявителя, с которым можно прекратить переписку."
    return command_error(exc)


@router.get("/cases/{case_id}/public-answer")
async def public_answer_form(request: Request, case_id: str) -> Response:
    case_id = case_id[:MAX_ID]
    try:
        _, svc = await _appeal(request, case_id)
        with svc.db.connect() as conn:
            group = len(public_answers.group_of(conn, case_id))
    except (ApiError, OknoError):
        return render(request, "case_missing.html", {}, status=404)
    return _form(request, "appeal_public_answer.html", case_id, {}, {}, group=group,
                 needed=public_answers.MIN_IDENTICAL)


@router.post("/cases/{case_id}/public-answer")
async def publish(request: Request, case_id: str) -> Response:
    case_id = case_id[:MAX_ID]
    try:
        user, svc = await _appeal(request, case_id)
        with svc.db.connect() as conn:
            group = len(public_answers.group_of(conn, case_id))
    except (ApiError, OknoError):
        return render(request, "case_missing.html", {}, status=404)
    form = await checked_form(request)
    values = {"title": str(form.get("title") or "")[: public_answers.MAX_TITLE + 1],
              "answer": str(form.get("answer") or "")[: public_answers.MAX_ANSWER + 1]}
    errors: dict[str, str] = {}
    try:
        done = public_answers.publish(svc.db, case_id, title=values["title"],
                                      answer=values["answer"], actor=user.name,
                                      now=svc.cases.now())
    except InvalidInput as bad:
        errors[bad.field or "answer"] = (
            f"Заголовок — от 1 до {public_answers.MAX_TITLE} символов в одну строку."
            if bad.field == "title" else
            f"Текст ответа — от 1 до {public_answers.MAX_ANSWER} символов.")
        status = 422
    except OknoError:
        errors["title"] = (f"Публично можно ответить на более чем {public_answers.MIN_IDENTICAL - 1} "
                           f"одинаковых обращений; таких обращений {group}.")
        status = 409
    else:
        return RedirectResponse(f"/answers/{done.authority}#answer-{done.id}", status_code=303)
    return _form(request, "appeal_public_answer.html", case_id, values, errors, status,
                 group=group, needed=public_answers.MIN_IDENTICAL)

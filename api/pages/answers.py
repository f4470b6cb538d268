"""Public answers to identical appeals: public pages, no sign-in, no personal data.

`/answers` lists every published answer, newest first; `/answers/{authority}` one authority's
(404 for an authority the catalog does not hold). Each shows the title and the answer the
supervisor wrote, the topic, how many appeals it answers and the date (engine.appeal_registers.
public_answers.published): never an applicant, an appeal's text or a case.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.pages.rendering import render
from api.pages.session import page_user
from engine.appeal_registers import public_answers

router = APIRouter(include_in_schema=False)
PAGE = 20


def _page(request: Request, authority: str | None, page: int) -> Response:
    svc = request.app.state.okno
    catalog = svc.authorities.get()
    if authority is not None and catalog.get(authority) is None:
        return render(request, "answers.html", {"missing": True, "authority": None, "answers": None,
                                                "names": {}}, status=404)
    page = max(1, min(page, 10_000))
    with svc.db.connect() as conn:
        listed = public_answers.published(conn, authority=authority, limit=PAGE,
                                          offset=(page - 1) * PAGE)
    names = {a.id: a.name for a in catalog}
    return render(request, "answers.html", {
        "missing": False, "authority": catalog.get(authority) if authority else None,
        "answers": listed, "names": names, "page": page,
        "pages": max(1, -(-listed["total"] // PAGE)), "zone": svc.settings.timezone})


@router.get("/answers")
async def answers(request: Request, page: int = 1) -> Response:
    await page_user(request)
    return _page(request, None, page)


@router.get("/answers/{authority}")
async def answers_of(request: Request, authority: str, page: int = 1) -> Response:
    await page_user(request)
    return _page(request, authority[:128], page)

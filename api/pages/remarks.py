"""The book of remarks and suggestions (`GET /remarks-book`): the record of the signed-in staff
member's organisation — each entry with its registration number, text and answer, newest first.

Entries are registered and answered like appeals (the `remarks-book` definition, docs/appeals.md);
this page only shows the record (`engine.read.appeal_view.remarks_book`, the same read as
`GET /api/remarks-book`). It names no other organisation: the signed-in user's own.
"""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from api.pages.rendering import render
from api.pages.session import require_user
from engine.read.appeal_view import remarks_book

router = APIRouter(include_in_schema=False)

PAGE = 50
KINDS = {"remark": "замечание", "suggestion": "предложение"}


@router.get("/remarks-book", response_class=HTMLResponse)
async def remarks_page(request: Request, offset: int = Query(0, ge=0, le=1_000_000)) -> Response:
    user = await require_user(request, "clerk", "supervisor")
    svc = request.app.state.okno
    book = remarks_book(svc.db, user.org, limit=PAGE, offset=offset)
    authority = svc.authorities.get().get(user.org)
    return render(request, "remarks_book.html", {
        "book": book, "kinds": KINDS, "authority_name": authority.name if authority else user.org,
        "next_offset": offset + PAGE if offset + PAGE < book["total"] else None,
        "prev_offset": max(0, offset - PAGE) if offset else None})

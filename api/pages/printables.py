"""Printable documents of a case: `/cases/{id}/print/receipt|decision|refusal`.

The receipt of the application, the decision notice and the refusal (with the text of its legal
ground, the superior body and the term to appeal), from the case's procedure version and its
trail (`engine.read.printables`), laid out for an A4 sheet (`print.css`). Who may see them is
who may see the case (api.access: the staff of its authority, its applicant, auditors); any
other case, and a document that does not exist yet (no decision taken), answer 404.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from api.access import CASE_READERS, can_see
from api.pages.rendering import render
from api.pages.session import require_user
from engine.money import NoBaseUnitValue
from engine.read import queries
from engine.read.printables import KINDS, printable

router = APIRouter(include_in_schema=False)
TITLES = {"receipt": "Расписка в приеме заявления", "decision": "Уведомление об административном "
          "решении", "refusal": "Уведомление об отказе"}
MAX_ID = 64


@router.get("/cases/{case_id}/print/{kind}", response_class=HTMLResponse)
async def print_document(request: Request, case_id: str, kind: str) -> Response:
    """One printable document of a case the user may see; 404 if there is none (yet)."""
    user = await require_user(request, *CASE_READERS)
    document = await run_in_threadpool(_document, request, user, case_id, kind)
    if document is None:
        return render(request, "print/missing.html", {"case_id": case_id}, status=404)
    return render(request, f"print/{kind}.html", document)


def _document(request: Request, user: Any, case_id: str, kind: str) -> dict[str, Any] | None:
    svc = request.app.state.okno
    if len(case_id) > MAX_ID or kind not in KINDS:
        return None
    facts = queries.case_facts(svc.db, case_id)
    if facts is None or not can_see(user, facts):
        return None  # another authority's case is as absent as one that does not exist
    document = printable(svc.db, svc.versions, case_id, kind, svc.cases.calendar)
    if document is None:
        return None
    catalog = svc.authorities.get()
    case = document["case"]
    authority = catalog.get(case["authority"])
    try:  # what the applicant owes, in roubles on the day the application was registered
        owed = (None if case["fee"]["base_units"] is None  # a table fee before intake
                else svc.base_units.get().roubles_on(case["fee"]["base_units"], case["start_date"]))
    except NoBaseUnitValue:
        owed = None
    return {**document, "title": TITLES[kind], "authority": authority,
            "authority_code": case["authority"], "owed_byn": owed,
            "superior": catalog.superior(authority) if authority else None}

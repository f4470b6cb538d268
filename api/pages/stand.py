"""The one-window information stand: public pages, no sign-in, always the current catalog.

`/stand` lists every authority of the catalog; `/stand/{authority}` shows one (its procedures,
reception hours, the officer who receives citizens and their deputy, the superior body, address,
phone); `/stand/{authority}/{number}` one procedure with every section the Ministry of Justice
recommendations ask for, and its schema.org `GovernmentService` JSON-LD (open data). The
procedures are the newest published versions (`Versions.current_versions`, checked on every
request), the authorities and base unit values those their files hold now (`Reloading`), so a
change shows on the next request. Fees are shown in base units and in roubles at the value in
force today. The Russian wording of values (money, dates, hours) is `wording` in this module's
filters; terms and validity come from engine.diff.wording.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from api.pages.commands import ru_date
from api.pages.rendering import render, templates
from api.pages.session import page_user
from engine.authorities.authority import WEEKDAYS, Authority
from engine.authorities.catalog import AuthorityCatalog
from engine.definition.procedure import Procedure
from engine.diff.wording import CHANNEL_RU, term_ru, validity_ru
from engine.money import FeeOnDate, fee_on

router = APIRouter(include_in_schema=False)

WEEKDAYS_RU = {"mon": "Понедельник", "tue": "Вторник", "wed": "Среда", "thu": "Четверг",
               "fri": "Пятница", "sat": "Суббота", "sun": "Воскресенье"}
SCHEMA_DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
               "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
MAX_ID = 64


def rub(amount: Decimal | None) -> str:
    """Roubles in Russian: Decimal('22.50') -> '22,50 руб.'"""
    return "—" if amount is None else f"{amount:.2f}".replace(".", ",") + " руб."


def base_units_ru(multiple: float) -> str:
    """0.5 -> '0,5 базовой величины', 1 -> '1 базовая величина', 2 -> '2 базовые величины'."""
    text = f"{multiple:g}".replace(".", ",")
    if multiple != int(multiple):
        return f"{text} базовой величины"
    n = int(multiple)
    if n % 10 == 1 and n % 100 != 11:
        return f"{text} базовая величина"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{text} базовые величины"
    return f"{text} базовых величин"


def day_ru(day: date) -> str:
    return day.strftime("%d.%m.%Y")


templates.env.filters.update(rub=rub, base_units_ru=base_units_ru, day_ru=day_ru, date_ru=ru_date,
                             term_ru=term_ru, validity_ru=validity_ru)
templates.env.globals.update(WEEKDAYS=WEEKDAYS, WEEKDAYS_RU=WEEKDAYS_RU, CHANNEL_RU=CHANNEL_RU)


def current_procedures(request: Request) -> list[Procedure]:
    """The newest published version of every procedure, in the official list's order. The stand
    is about administrative procedures (the Ministry of Justice's recommendations): appeals and
    the book of remarks are not on it (docs/appeals.md)."""
    versions = request.app.state.okno.versions
    procedures = (versions.get(v) for v in versions.current_versions().values())
    return [p for p in procedures if p.is_procedure]


def authorities(request: Request) -> AuthorityCatalog:
    return request.app.state.okno.authorities.get()


def money(request: Request, proc: Procedure) -> FeeOnDate:
    svc = request.app.state.okno
    return fee_on(proc.fee, svc.base_units.get(), svc.clock.today())


def option_fees(request: Request, proc: Procedure) -> list[tuple[Any, FeeOnDate]]:
    """Each service option of `proc` with its fee in roubles today (none without options)."""
    svc = request.app.state.okno
    units, today = svc.base_units.get(), svc.clock.today()
    return [(option, fee_on(option.fee, units, today)) for option in proc.options]


class Missing(Exception):
    """What the address names is not on any stand (answered 404, with a page saying so)."""


@router.get("/stand", response_class=HTMLResponse)
async def stand_index(request: Request) -> Response:
    """Every authority's stand."""
    await page_user(request)  # the header shows who is signed in, if anyone
    return render(request, "stand/index.html", {"authorities": list(authorities(request))})


@router.get("/stand/{authority_id}", response_class=HTMLResponse)
async def stand_authority(request: Request, authority_id: str) -> Response:
    """One authority: its procedures, reception, officer and deputy, superior body, contacts."""
    return await _page(request, "stand/authority.html", authority_context, authority_id)


@router.get("/stand/{authority_id}/{number}", response_class=HTMLResponse)
async def stand_procedure(request: Request, authority_id: str, number: str) -> Response:
    """One procedure as this authority performs it: every section of the stand, and JSON-LD."""
    return await _page(request, "stand/procedure.html", procedure_context, authority_id, number)


async def _page(request: Request, name: str, context: Any, *args: str) -> Response:
    await page_user(request)
    try:
        values = await run_in_threadpool(context, request, *args)  # reads the database
    except Missing as exc:
        return render(request, "stand/not_found.html", {"what": str(exc)}, status=404)
    return render(request, name, values)


def _authority(catalog: AuthorityCatalog, authority_id: str) -> Authority:
    authority = catalog.get(authority_id[:MAX_ID])
    if authority is None:
        raise Missing("Такого органа нет в перечне органов.")
    return authority


def authority_context(request: Request, authority_id: str) -> dict[str, Any]:
    catalog = authorities(request)
    authority = _authority(catalog, authority_id)
    return {"authority": authority, "superior": catalog.superior(authority),
            "procedures": catalog.procedures_of(authority, current_procedures(request))}


def procedure_context(request: Request, authority_id: str, number: str) -> dict[str, Any]:
    catalog = authorities(request)
    authority = _authority(catalog, authority_id)
    proc = next((p for p in current_procedures(request) if p.number == number), None)
    if proc is None or not catalog.performs(authority, proc):
        raise Missing("Этот орган не осуществляет такую административную процедуру.")
    fee = money(request, proc)
    superior = catalog.superior(authority)
    url = str(request.url_for("stand_procedure", authority_id=authority.id, number=proc.number))
    return {"authority": authority, "superior": superior, "proc": proc, "fee": fee,
            "options": option_fees(request, proc),
            "result_form": proc.definition["result"].get("form"),
            "json_ld": json_ld(government_service(proc, authority, superior, fee, url))}


def government_service(proc: Procedure, authority: Authority, superior: Authority | None,
                       fee: FeeOnDate, url: str) -> dict[str, Any]:
    """The procedure as a schema.org GovernmentService offered by `authority`."""
    provider: dict[str, Any] = {"@type": "GovernmentOrganization", "identifier": authority.id,
                                "name": authority.name, "address": authority.address,
                                "telephone": authority.phone}
    if authority.website:
        provider["url"] = authority.website
    if superior is not None:
        provider["parentOrganization"] = {"@type": "GovernmentOrganization",
                                          "identifier": superior.id, "name": superior.name,
                                          "address": superior.address}
    hours = [{"@type": "OpeningHoursSpecification",
              "dayOfWeek": f"https://schema.org/{SCHEMA_DAYS[day]}",
              "opens": interval.start, "closes": interval.end}
             for day, intervals in authority.reception for interval in intervals]
    service: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "GovernmentService",
        "identifier": proc.number, "name": proc.name, "url": url,
        "serviceType": "Административная процедура",
        "provider": provider, "serviceOperator": provider,
        "availableChannel": [{"@type": "ServiceChannel", "name": CHANNEL_RU[c],
                              "availableLanguage": ["ru", "be"],
                              "serviceLocation": {"@type": "Place",
                                                  "address": authority.address}}
                             for c in proc.channels],
        "hoursAvailable": hours,
        "termsOfService": f"Срок осуществления: {term_ru(proc.term.max)}",
        "offers": _offers(proc, fee),
    }
    return service


def _offers(proc: Procedure, fee: FeeOnDate) -> list[dict[str, Any]]:
    def offer(name: str, amount: Decimal | None, multiple: float) -> dict[str, Any]:
        item: dict[str, Any] = {"@type": "Offer", "name": name, "priceCurrency": "BYN",
                                "description": base_units_ru(multiple) if multiple else
                                "бесплатно", "validFrom": fee.on.isoformat()}
        if amount is not None:
            item["price"] = f"{amount:.2f}"
        return item

    if proc.options:  # one offer per service option (and category): its own price
        return [offer(f"{o.title}: {c.title}", fee.of(c.base_units), c.base_units)
                for o in proc.options for c in o.fee.categories] + [
            offer(o.title, fee.of(o.fee.amount()), o.fee.amount())
            for o in proc.options if o.fee.kind != "by_category"]
    if proc.fee.kind == "by_category":
        return [offer(c.title, fee.category(c.id), c.base_units) for c in proc.fee.categories]
    if proc.fee.kind == "table":  # one offer per cell, named by its choices
        return [offer("; ".join(f"{t}: {v}" for t, v in proc.fee_cell_terms(c)),
                      fee.of(c.base_units), c.base_units) for c in proc.fee.cells]
    return [offer(proc.name, fee.amount, proc.fee.base_units if proc.fee.kind != "free" else 0)]


def json_ld(data: dict[str, Any]) -> str:
    """JSON for a <script type="application/ld+json">: `<`, `>` and `&` escaped as \\u00XX so
    no text in the data can close the element (`</script>`) or open a comment."""
    text = orjson.dumps(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

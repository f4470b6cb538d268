"""Open311 GeoReport v2 beside okno's own API, mapped onto citizens' appeals (docs/open311.md).

The methods (JSON only; a `.xml` path or any other under `/open311/v2/` answers Open311's error
format, `[{"code": …, "description": …}]`, with the same HTTP status):

- `GET  /open311/v2/services.json`: one service per topic of each appeal definition
  (`service_code` `{number}.{topic}`, e.g. `appeal.housing`), public;
- `GET  /open311/v2/services/{service_code}.json`: its definition: the attribute `kind`
  (statement, proposal, complaint: the definition's kinds), required;
- `POST /open311/v2/requests.json` (form fields): an electronic appeal, registered through the
  same use case as `POST /api/cases` by an applicant account: `api_key` is an okno access token
  (`POST /api/auth/token`; or `Authorization: Bearer`), `jurisdiction_id` the authority,
  `service_code`, `description` (the question), `attribute[kind]`, optional `email`,
  `first_name`/`last_name` (the applicant's name; default: the account's), `address_string`;
- `GET  /open311/v2/requests.json` and `/requests/{id}.json`: the appeals the token's account may
  see (an applicant their own, staff their authority's, an auditor all), newest first.

Not in okno's OpenAPI document (it is another standard's interface, with its own error format);
docs/open311.md maps every field.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.auth import account_check, read_token
from api.deps import Services, json_response
from api.problems import ApiError, engine_problem
from engine import accounts
from engine.accounts import STAFF, User
from engine.errors import OknoError
from engine.read import appeal_list
from engine.statuses import ACTIVE
from engine.text import text_problem

router = APIRouter(prefix="/open311/v2", include_in_schema=False)

MAX_DESCRIPTION = 10_000
MAX_NAME = 64
MAX_ADDRESS = 500
MAX_EMAIL = 254
MAX_IDS = 50
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
DEFAULT_DAYS = 90  # GeoReport v2: without dates, the last 90 days
ACTIVE_STATUSES = tuple(sorted(s.value for s in ACTIVE))
KIND_ATTRIBUTE = "kind"
OUTCOME_NOTES = {"satisfied": "Удовлетворено", "not_satisfied": "Не удовлетворено",
                 "explained": "Даны разъяснения", "withdrawn": "Отозвано заявителем",
                 "left_without_consideration": "Оставлено без рассмотрения по существу",
                 "answered": "Дан ответ"}


class Open311Error(Exception):
    """An error answered in Open311's format."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def error_response(status: int, description: str) -> Response:
    return json_response([{"code": status, "description": description}], status)


# ------------------------------------------------------------------------------------ services

@router.get("/services.json")
async def services_list(request: Request) -> Response:
    return _answer(lambda: [_service(p, t) for p, t in _topics(_svc(request))])


@router.get("/services/{service_code}.json")
async def service_definition(request: Request, service_code: str) -> Response:
    def run() -> dict[str, Any]:
        proc, _topic = _service_of(_svc(request), service_code)
        return {"service_code": service_code, "attributes": [{
            "variable": True, "code": KIND_ATTRIBUTE, "datatype": "singlevaluelist",
            "required": True, "datatype_description": "Вид обращения", "order": 1,
            "description": "Вид обращения (Закон № 300-З)",
            "values": [{"key": k.id, "name": k.title} for k in proc.kinds]}]}
    return _answer(run)


# ------------------------------------------------------------------------------------ requests

@router.post("/requests.json")
async def post_request(request: Request) -> Response:
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - a body that is not a form: the client's error
        return error_response(400, "the body must be application/x-www-form-urlencoded "
                                   "or multipart/form-data")
    try:
        user = await _caller(request, _one(form, "api_key"))
    except Open311Error as exc:
        return error_response(exc.status, exc.description)
    return _answer(lambda: [_register(_svc(request), user, form)], status=201)


@router.get("/requests.json")
async def get_requests(request: Request) -> Response:
    try:
        user = await _caller(request, request.query_params.get("api_key"))
    except Open311Error as exc:
        return error_response(exc.status, exc.description)
    return _answer(lambda: _requests(_svc(request), user, request.query_params))


@router.get("/requests/{request_id}.json")
async def get_request(request: Request, request_id: str) -> Response:
    try:
        user = await _caller(request, request.query_params.get("api_key"))
    except Open311Error as exc:
        return error_response(exc.status, exc.description)

    def run() -> list[dict[str, Any]]:
        found = _requests(_svc(request), user, {"service_request_id": request_id})
        if not found:
            raise Open311Error(404, f"service request {request_id[:64]} does not exist")
        return found
    return _answer(run)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def not_open311(rest: str) -> Response:
    if rest.endswith(".xml"):
        return error_response(400, "okno serves Open311 in JSON only: use the .json path")
    return error_response(404, "no such Open311 method (see /open311/v2/services.json)")


# ------------------------------------------------------------------------------------ internals

def _svc(request: Request) -> Services:
    return request.app.state.okno


def _answer(run: Any, status: int = 200) -> Response:
    """`run()` as JSON, or its error in Open311's format."""
    try:
        return json_response(run(), status)
    except Open311Error as exc:
        return error_response(exc.status, exc.description)
    except ApiError as exc:
        return error_response(exc.status, _described(exc.detail, exc.field))
    except OknoError as exc:
        return error_response(engine_problem(exc).status, _described(exc.detail, exc.field))


def _described(detail: str, field: str | None) -> str:
    return f"{field}: {detail}" if field else detail


async def _caller(request: Request, api_key: str | None) -> User:
    """The account behind `api_key` (or the bearer token); 401 without one that is valid."""
    token = api_key
    header = request.headers.get("authorization", "")
    if not token and header.lower().startswith("bearer "):
        token = header[7:].strip()
    if not token:
        raise Open311Error(401, "api_key is required: an okno access token "
                                "(POST /api/auth/token)")
    try:
        user, iat = read_token(token[:4096], _svc(request).secret)
        await account_check(request).check(user, iat)
    except ApiError as exc:
        raise Open311Error(exc.status, f"api_key: {exc.detail}") from None
    return user


def _appeal_definitions(svc: Services) -> list[Any]:
    """The current appeal definitions (`type: appeal`, CORE's format), by number."""
    current = svc.versions.current_versions()
    procs = [svc.versions.get(v) for _n, v in sorted(current.items())]
    return [p for p in procs if getattr(p, "type", "procedure") == "appeal"]


def _topics(svc: Services) -> list[tuple[Any, Any]]:
    return [(p, t) for p in _appeal_definitions(svc) for t in p.topics]


def _service(proc: Any, topic: Any) -> dict[str, Any]:
    return {"service_code": f"{proc.number}.{topic.id}", "service_name": topic.title,
            "description": f"{proc.name}: {topic.title}", "metadata": True, "type": "realtime",
            "keywords": ", ".join(k.id for k in proc.kinds), "group": proc.name}


def _service_of(svc: Services, code: str) -> tuple[Any, Any]:
    number, _, topic_id = code.partition(".")
    for proc, topic in _topics(svc):
        if proc.number == number and topic.id == topic_id:
            return proc, topic
    raise Open311Error(404, f"service_code {code[:80]!r} is not a service "
                            "(see /open311/v2/services.json)")


def _one(form: Any, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


def _text(form: Any, key: str, limit: int, *, required: bool = False, free: bool = False) -> str | None:
    value = (_one(form, key) or "").strip()
    if not value:
        if required:
            raise Open311Error(400, f"{key} is required")
        return None
    if len(value) > limit:
        raise Open311Error(400, f"{key} must be at most {limit} characters")
    problem = text_problem(value, free=free)
    if problem is not None:
        raise Open311Error(400, f"{key}: {problem}")
    return value


def _register(svc: Services, user: User, form: Any) -> dict[str, Any]:
    """An electronic appeal by the token's applicant account: the same use case as
    `POST /api/cases` for an applicant (their own appeal, channel electronic, an authority that
    works in okno)."""
    if user.role != "applicant":
        raise Open311Error(403, "requests are posted with an applicant account's api_key "
                                "(staff register appeals through /api/cases)")
    code = _text(form, "service_code", 100, required=True)
    proc, topic = _service_of(svc, code)
    authority = _text(form, "jurisdiction_id", 128, required=True)
    if authority not in svc.authorities.get() or not accounts.org_has_staff(svc.db, authority):
        raise Open311Error(400, f"jurisdiction_id: no authority {authority!r} works in okno")
    kind = _text(form, f"attribute[{KIND_ATTRIBUTE}]", 64, required=True)
    if kind not in {k.id for k in proc.kinds}:
        raise Open311Error(400, f"attribute[{KIND_ATTRIBUTE}] must be one of "
                                f"{[k.id for k in proc.kinds]}")
    description = _text(form, "description", MAX_DESCRIPTION, required=True, free=True)
    email = _text(form, "email", MAX_EMAIL)
    address = _text(form, "address_string", MAX_ADDRESS)
    names = [n for n in (_text(form, "last_name", MAX_NAME), _text(form, "first_name", MAX_NAME))
             if n]
    data = {"kind": kind, "topic": topic.id, "question": description, "anonymous": False,
            **({"email": email} if email else {}), **({"address": address} if address else {})}
    case_id = svc.cases.start(proc.number, applicant=" ".join(names) or user.name,
                              channel="electronic", authority=authority, actor=user.name,
                              applicant_user=user.name, data=data)
    reg_number = appeal_list.reg_number(svc.db, case_id)
    return {"service_request_id": case_id, "account_id": None,
            "service_notice": f"Обращение зарегистрировано, регистрационный номер {reg_number}."
                              if reg_number else "Обращение зарегистрировано."}


def _requests(svc: Services, user: User, params: Any) -> list[dict[str, Any]]:
    """GET requests: the filters of GeoReport v2 over the appeals the caller may see."""
    scope: dict[str, Any] = {}
    if user.role in STAFF:
        scope["authority"] = user.org
    elif user.role == "applicant":
        scope["applicant_user"] = user.name
    elif user.role != "auditor":
        raise Open311Error(403, f"the {user.role} role does not read appeals")
    ids = [i.strip() for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    if len(ids) > MAX_IDS or any(len(i) > 64 for i in ids):
        raise Open311Error(400, f"service_request_id: at most {MAX_IDS} ids of 64 characters")
    since = until = None
    if not ids:
        since, until = _dates(params, svc.cases.now())
    number = topic = None
    code = params.get("service_code")
    if code:
        number, _, topic = code[:100].partition(".")
    status = params.get("status")
    if status not in (None, "", "open", "closed"):
        raise Open311Error(400, "status must be open or closed")
    jurisdiction = (params.get("jurisdiction_id") or "")[:128] or None
    if jurisdiction is not None:
        if scope.get("authority", jurisdiction) != jurisdiction:
            return []  # another authority's appeals: none of them is the caller's to see
        scope["authority"] = jurisdiction
    rows = appeal_list.appeals(svc.db, **scope, ids=ids, since=since, until=until, number=number,
                               topic=topic, open_={"open": True, "closed": False}.get(status or ""),
                               limit=_limit(params.get("limit")))
    return [_request(svc, r) for r in rows]


def _request(svc: Services, row: dict[str, Any]) -> dict[str, Any]:
    zone = svc.clock.zone
    catalog = svc.authorities.get()
    authority = catalog.get(row["authority"])
    proc = _definition(svc, row["number"])
    topic = next((t for t in getattr(proc, "topics", ()) if t.id == row["topic"]), None)
    open_ = row["status"] in ACTIVE_STATUSES
    return {
        "service_request_id": row["id"],
        "status": "open" if open_ else "closed",
        "status_notes": None if open_ else OUTCOME_NOTES.get(row["outcome"] or "", row["outcome"]),
        "service_name": topic.title if topic is not None else row["topic"],
        "service_code": f"{row['number']}.{row['topic']}",
        "description": row["question"],
        "agency_responsible": authority.name if authority is not None else row["authority"],
        "service_notice": (f"Регистрационный номер {row['reg_number']}" if row["reg_number"]
                           else None),
        "requested_datetime": _iso(row["started_at"], zone),
        "updated_datetime": _iso(row["closed_at"] or row["started_at"], zone),
        "expected_datetime": _iso(datetime.combine(row["due_date"], time(23, 59, 59), tzinfo=zone),
                                  zone),
        "address": row["address"], "address_id": None, "zipcode": None,
        "lat": None, "long": None, "media_url": None,
    }


def _definition(svc: Services, number: str) -> Any:
    current = svc.versions.current_versions()
    return svc.versions.get(current[number]) if number in current else None


def _iso(moment: datetime | None, zone: Any) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # stored UTC without an offset (SQLite)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _dates(params: Any, now: datetime) -> tuple[datetime, datetime]:
    """start_date and end_date (W3C date-times), by default the 90 days up to `now`."""
    last = _datetime(params.get("end_date"), "end_date") or now + timedelta(seconds=1)
    first = _datetime(params.get("start_date"), "start_date") or last - timedelta(days=DEFAULT_DAYS)
    if last < first:
        raise Open311Error(400, "end_date is before start_date")
    return first, last


def _datetime(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value[:40].replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value[:10]), time.min)
        except ValueError:
            raise Open311Error(400, f"{name} must be a W3C date-time "
                                    "(e.g. 2025-06-18T09:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _limit(value: str | None) -> int:
    if not value:
        return DEFAULT_LIMIT
    try:
        limit = int(value[:10])
    except ValueError:
        raise Open311Error(400, "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Open311Error(400, f"limit must be from 1 to {MAX_LIMIT}")
    return limit


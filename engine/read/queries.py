"""The read side: what clerks, applicants and auditors see, from the tables alone.

Nothing here loads or runs a workflow. A case's view comes from its row, its open task rows, its
document rows and its audit events; work lists come from the `tasks` side table (joined to
`cases` only for the case's status and number).

The form data collected so far is not stored anywhere new: it is rebuilt from the audit trail,
where every completed step's event carries the cleaned data it was completed with (and the
start event the channel, category and exemption). Later events win. The trail is the legal
record of what was entered, so the view can never disagree with it.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, func, literal, select
from sqlalchemy.engine import Connection, Engine

from engine.audit.chain import case_events as stored_events
from engine.bpmn.messages import catchers, waiting_in_state
from engine.definition.procedure import Fee, Procedure
from engine.expressions import ExpressionError, evaluate
from engine.notices import refusal
from engine.process.specs import load_spec
from engine.read.appeal_view import appeal_fields
from engine.read.form_data import form_data
from engine.read.notices import case_notices
from engine.read.result_validity import valid_until
from engine.statuses import ACTIVE
from engine.store import external_tasks as external_store
from engine.store.fast_path import for_engine
from engine.store.tables import case_documents, cases, events, procedure_versions, tasks
from engine.store.versions import Versions
from engine.terms import WorkCalendar, default_calendar

NEEDED, MAYBE = "yes", "maybe"
# A list counts its matches up to this many and beyond says only "more than COUNT_CAP": an exact
# count of 10,000 open tasks (or of a million cases) reads every matching index entry and was
# most of a page's time (measured: benchmarks/bench_volume.py), while a page itself is an index
# range cut at its size.
COUNT_CAP = 1000
TASK_COLUMNS = (tasks.c.id, tasks.c.case_id, tasks.c.step, tasks.c.kind, tasks.c.title,
                tasks.c.role, tasks.c.acts_as, tasks.c.authority, tasks.c.state,
                tasks.c.assignee, tasks.c.due_date)


def capped_count(conn: Connection, source, where) -> dict[str, Any]:
    """`total`: how many rows of `source` match `where`, counted up to COUNT_CAP; `total_capped`:
    whether the count stopped there (there are more)."""
    found = conn.execute(select(func.count()).select_from(
        select(literal(1)).select_from(source).where(*where).limit(COUNT_CAP + 1).subquery())
    ).scalar_one()
    return {"total": min(found, COUNT_CAP), "total_capped": found > COUNT_CAP}


def _conn(conn_or_db: Connection | Engine):
    """A context manager yielding a Connection, whether given an Engine or a Connection."""
    if isinstance(conn_or_db, Connection):
        from contextlib import nullcontext
        return nullcontext(conn_or_db)
    return conn_or_db.connect()


# ------------------------------------------------------------------------------------ one case

_FACTS = (select(cases.c.authority, cases.c.applicant_user, cases.c.status)
          .where(cases.c.id == bindparam("case_id")))
_FACTS_AND_TASK = (
    select(cases.c.authority, cases.c.applicant_user, cases.c.status, tasks.c.acts_as, tasks.c.state,
           tasks.c.assignee, tasks.c.kind)
    .select_from(cases.outerjoin(tasks, and_(tasks.c.case_id == cases.c.id,
                                             tasks.c.id == bindparam("task_id"))))
    .where(cases.c.id == bindparam("case_id")))


def case_facts(conn_or_db: Connection | Engine, case_id: str,
               task_id: str | None = None) -> dict[str, Any] | None:
    """Who a case belongs to and its state (and one of its tasks): enough to authorise a command.

    One query, run on the hot path before every command; None when the case does not exist.
    `task` is None when `task_id` names no task of this case.
    """
    if task_id is None:
        rows = _fetch(conn_or_db, _FACTS, {"case_id": case_id})
        if not rows:
            return None
        authority, applicant_user, status = rows[0]
        return {"authority": authority, "applicant_user": applicant_user, "status": status,
                "task": None}
    rows = _fetch(conn_or_db, _FACTS_AND_TASK, {"case_id": case_id, "task_id": task_id})
    if not rows:
        return None
    authority, applicant_user, status, acts_as, state, assignee, kind = rows[0]
    task = None if acts_as is None else {"acts_as": acts_as, "state": state,
                                         "assignee": assignee, "kind": kind}
    return {"authority": authority, "applicant_user": applicant_user, "status": status, "task": task}


def _fetch(conn_or_db: Connection | Engine, stmt, params: dict[str, Any]) -> list[tuple]:
    """Rows of a prebuilt read: on the store's raw fast path given an Engine (the reads every
    command makes), through Core given a Connection."""
    if isinstance(conn_or_db, Connection):
        return [tuple(r) for r in conn_or_db.execute(stmt, params).all()]
    return for_engine(conn_or_db).rows(stmt, params)


def open_task_of_kind(conn_or_db: Connection | Engine, case_id: str, kind: str) -> dict | None:
    """The open task of `kind` (decision, issue) in a case, if one is waiting."""
    with _conn(conn_or_db) as conn:
        row = conn.execute(select(*TASK_COLUMNS).where(
            tasks.c.case_id == case_id, tasks.c.kind == kind, tasks.c.state == "open")
            .order_by(tasks.c.created_at).limit(1)).first()
    return None if row is None else _task(row)


_TASK_KEYS = tuple(c.key for c in TASK_COLUMNS)
_STATUS = (
    select(cases.c.id.label("case_id_"), cases.c.status, cases.c.outcome, cases.c.ground,
           cases.c.row_version, cases.c.due_date.label("case_due"), *TASK_COLUMNS)
    .select_from(cases.outerjoin(tasks, and_(tasks.c.case_id == cases.c.id,
                                             tasks.c.state == "open")))
    .where(cases.c.id == bindparam("case_id"))
    .order_by(tasks.c.created_at, tasks.c.id))


def case_status(conn_or_db: Connection | Engine, case_id: str) -> dict[str, Any] | None:
    """The short answer to a command: status, outcome, row version and the open tasks (one query)."""
    rows = _fetch(conn_or_db, _STATUS, {"case_id": case_id})
    if not rows:
        return None
    cid, status, outcome, ground, row_version, due = rows[0][:6]
    return {"id": cid, "status": status, "outcome": outcome, "ground": ground,
            "row_version": row_version, "due_date": due,
            "tasks": [dict(zip(_TASK_KEYS, r[6:], strict=True)) for r in rows if r[6] is not None]}


def case_view(conn_or_db: Connection | Engine, case_id: str,
              versions: Versions, calendar: WorkCalendar | None = None) -> dict[str, Any] | None:
    """Everything a clerk needs on one screen; None when the case does not exist.

    `versions` gives the case's procedure version from the process's cache; `calendar` (the
    engine's) says whether the due date is provisional: counted through a year whose working-day
    transfers are not known yet (`due_provisional_years`), until the year is loaded.
    """
    with _conn(conn_or_db) as conn:
        row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
        if row is None:
            return None
        c = row._mapping
        procedure = versions.get(c["version"])
        open_tasks = conn.execute(select(*TASK_COLUMNS).where(
            tasks.c.case_id == case_id, tasks.c.state == "open")
            .order_by(tasks.c.created_at, tasks.c.id)).all()
        docs = dict(conn.execute(select(case_documents.c.document, case_documents.c.status)
                                 .where(case_documents.c.case_id == case_id)).all())
        trail = conn.execute(select(events.c.action, events.c.step, events.c.data, events.c.at,
                                    events.c.actor)
                             .where(events.c.case_id == case_id).order_by(events.c.seq)).all()
        notice_list = case_notices(conn, case_id)
        external = [{"id": t["id"], "topic": t["topic"], "step": t["step"],
                     "locked_by": t["worker_id"], "lock_expires_at": t["lock_expires_at"],
                     "retries": t["retries"], "error_message": t["error_message"],
                     "incident": bool(t["incident"])} for t in external_store.of_case(conn, case_id)]
    data, done_steps = form_data([(action, step, raw) for action, step, raw, _at, _actor in trail])
    names = condition_names(procedure, data, done_steps, c)
    return {
        "id": c["id"], "number": c["number"], "version": c["version"], "procedure": procedure.name,
        "status": c["status"], "outcome": c["outcome"], "ground": c["ground"],
        "refusal": refusal.of_case(procedure, c, calendar),
        "valid_until": valid_until(procedure, c, data),
        "applicant": c["applicant"], "applicant_user": c["applicant_user"], "channel": c["channel"],
        "authority": c["authority"],
        "fee": fee_of_case(procedure, c, data),
        "option": case_option(procedure, c["option"]),
        "started_at": c["started_at"], "start_date": c["start_date"], "due_date": c["due_date"],
        **provisional(calendar, c["start_date"], c["due_date"]),
        "overdue": bool(c["overdue"]), "suspended_on": c["suspended_on"],
        "closed_at": c["closed_at"], "documents_requested": bool(c["documents_requested"]),
        "row_version": c["row_version"],
        "tasks": [_task(t) for t in open_tasks],
        "documents": checklist(procedure, names, docs),
        "data": data,
        **appeal_fields(c, procedure),
        "notices": notice_list,
        "migrations": migrations(trail),
        "external_tasks": external,
        "waiting_messages": waiting_messages(procedure, c["status"], c["state"]),
    }


def case_option(procedure: Procedure, option_id: str | None) -> dict[str, str] | None:
    """The service option a case chose (id, title, term), None without one."""
    if option_id is None:
        return None
    option = procedure.option(option_id)
    return {"id": option.id, "title": option.title, "term": option.term}


def fee_of_case(procedure: Procedure, c: Any, data: dict[str, Any]) -> dict[str, Any]:
    """What a case owes: a table fee is unknown (base_units None) until the intake data name
    its cell, which `cell` then shows (axis -> the choice made)."""
    fee = case_fee(procedure, c["option"])
    owed: float | None = c["fee"]
    cell = None
    if fee.kind == "table":
        cell = {axis: data.get(axis) for axis in fee.axes}
        if None in cell.values():
            cell = None
            owed = 0 if c["exempt"] else None
    return {"kind": fee.kind, "base_units": owed, "category": c["category"],
            "exempt": bool(c["exempt"]), "cell": cell}


def case_fee(procedure: Procedure, option_id: str | None) -> Fee:
    """The fee that applies to a case: its option's, else the procedure's."""
    return procedure.fee if option_id is None else procedure.option(option_id).fee


def waiting_messages(procedure: Procedure, status: str, state: bytes | None) -> list[str]:
    """The BPMN messages an open case waits for (what POST /api/cases/{id}/messages accepts now),
    read from its stored state; nothing is scanned for a version without message events."""
    if status not in ACTIVE:
        return []
    parsed = load_spec(procedure)
    return waiting_in_state(catchers(parsed, (parsed.spec, *parsed.subprocess_specs.values())), state)


def provisional(calendar: WorkCalendar | None, start: date | None,
                due: date | None) -> dict[str, Any]:
    """`due_provisional` and the years that make it so (none when the calendar knows them)."""
    cal = calendar if calendar is not None else default_calendar()
    years = list(cal.unknown_years(start, due)) if start is not None and due is not None else []
    return {"due_provisional": bool(years), "due_provisional_years": years}


def condition_names(procedure: Procedure, data: dict[str, Any], done_steps: set[str],
                    row) -> dict[str, Any]:
    """Names a checklist condition may use: the builtins, the collected form data, and None for
    the optional fields of steps already completed without a value."""
    names: dict[str, Any] = {}
    for step in procedure.steps:
        if step.id in done_steps:
            for fld in step.fields:
                names[fld.id] = None
    names.update(data)
    names.update(channel=row["channel"], category=row["category"], exempt=bool(row["exempt"]),
                 documents_requested=bool(row["documents_requested"]), option=row["option"])
    return names


def _needed(condition: str | None, names: dict[str, Any]) -> str | None:
    """'yes', 'maybe' (cannot be told yet), or None (the condition does not hold)."""
    if not condition:
        return NEEDED
    try:
        return NEEDED if evaluate(condition, names) else None
    except ExpressionError:
        return MAYBE  # a name not collected yet, or a value of the wrong type so far
    except Exception:  # noqa: BLE001 - a condition that breaks never hides a document
        return MAYBE


def checklist(procedure: Procedure, names: dict[str, Any], statuses: dict[str, str]) -> list[dict]:
    """Every presented document whose condition holds (or may hold), then every requested one."""
    items: list[dict[str, Any]] = []
    for doc in procedure.documents:
        needed = _needed(doc.condition, names)
        if needed is not None:
            items.append({"id": doc.id, "title": doc.title, "kind": "presented", "needed": needed,
                          "condition": doc.condition, "status": statuses.get(doc.id),
                          "source": None, "citizen_may_bring": True, "fee": None})
    for doc in procedure.requested_documents:
        needed = _needed(doc.condition, names)
        if needed is not None:
            items.append({"id": doc.id, "title": doc.title, "kind": "requested", "needed": needed,
                          "condition": doc.condition, "status": statuses.get(doc.id),
                          "source": doc.source, "citizen_may_bring": doc.citizen_may_bring,
                          "fee": doc.fee})
    return items


def _task(row) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "step": row.step, "kind": row.kind,
            "title": row.title, "role": row.role, "acts_as": row.acts_as,
            "authority": row.authority, "state": row.state, "assignee": row.assignee,
            "due_date": row.due_date}


# ------------------------------------------------------------------------------------ lists

CASE_LIST_COLUMNS = (cases.c.id, cases.c.number, procedure_versions.c.name, cases.c.status,
                     cases.c.outcome, cases.c.applicant, cases.c.channel, cases.c.authority,
                     cases.c.start_date, cases.c.due_date, cases.c.overdue, cases.c.row_version,
                     cases.c.type, cases.c.reg_number, cases.c.kind, cases.c.topic)


def list_cases(db: Connection | Engine, *, status: str | None = None, number: str | None = None,
               authority: str | None = None, applicant: str | None = None,
               applicant_user: str | None = None, due_before: date | None = None, overdue: bool | None = None,
               limit: int = 50, offset: int = 0, type: str | None = None) -> dict[str, Any]:
    """A page of cases, newest first, and how many match (`capped_count`; `type`: procedure,
    appeal, remarks)."""
    where = []
    if type is not None:
        where.append(cases.c.type == type)
    if status is not None:
        where.append(cases.c.status == status)
    if number is not None:
        where.append(cases.c.number == number)
    if authority is not None:
        where.append(cases.c.authority == authority)
    if applicant is not None:
        where.append(cases.c.applicant == applicant)
    if applicant_user is not None:
        where.append(cases.c.applicant_user == applicant_user)
    if due_before is not None:
        where.append(cases.c.due_date < due_before)
    if overdue is not None:
        where.append(cases.c.overdue.is_(overdue))
    with _conn(db) as conn:
        total = capped_count(conn, cases, where)
        rows = conn.execute(
            select(*CASE_LIST_COLUMNS)
            .join_from(cases, procedure_versions, procedure_versions.c.version == cases.c.version)
            .where(*where).order_by(cases.c.started_at.desc(), cases.c.id.desc())
            .limit(limit).offset(offset)).all()
    items = [{**r._mapping, "procedure": r.name, "overdue": bool(r.overdue)} for r in rows]
    for item in items:
        item.pop("name")
    return {"items": items, **total, "limit": limit, "offset": offset}


def worklist(db: Connection | Engine, *, authority: str | None = None,
             acts_as: str | tuple[str, ...] | None = None, role: str | None = None,
             state: str | None = "open", assignee: str | None = None,
             unassigned_or: str | None = None, due_before: date | None = None,
             overdue: bool | None = None, today: date | None = None,
             limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of task rows, earliest due first, read from the `tasks` side table only.

    `unassigned_or=name` keeps tasks nobody claimed plus those `name` holds (a clerk's queue);
    `overdue` compares the task's due date with `today`. How many match: `capped_count`.
    """
    where = []
    if authority is not None:
        where.append(tasks.c.authority == authority)
    if isinstance(acts_as, str):
        where.append(tasks.c.acts_as == acts_as)
    elif acts_as is not None:
        where.append(tasks.c.acts_as.in_(acts_as))
    if role is not None:
        where.append(tasks.c.role == role)
    if state is not None:
        where.append(tasks.c.state == state)
    if assignee is not None:
        where.append(tasks.c.assignee == assignee)
    if unassigned_or is not None:
        where.append(tasks.c.assignee.is_(None) | (tasks.c.assignee == unassigned_or))
    if due_before is not None:
        where.append(tasks.c.due_date < due_before)
    if overdue is not None:
        if today is None:
            raise ValueError("overdue needs today")
        late = tasks.c.due_date < today
        where.append(late if overdue else ~late)
    with _conn(db) as conn:
        total = capped_count(conn, tasks, where)
        rows = conn.execute(
            select(*TASK_COLUMNS, cases.c.status.label("case_status"), cases.c.number)
            .join_from(tasks, cases, cases.c.id == tasks.c.case_id)
            .where(*where).order_by(tasks.c.due_date, tasks.c.created_at, tasks.c.id)
            .limit(limit).offset(offset)).all()
    items = [{**_task(r), "case_status": r.case_status, "number": r.number} for r in rows]
    return {"items": items, **total, "limit": limit, "offset": offset}


def case_events(db: Connection | Engine, case_id: str) -> list[dict[str, Any]]:
    """The audit trail of a case, oldest first, with each event's data decoded."""
    with _conn(db) as conn:
        rows = stored_events(conn, case_id)
    # The API's shape: the ledger's own columns (effects, key id) are for `okno audit verify`.
    return [{**{k: v for k, v in r.items() if k not in _LEDGER_ONLY}, "data": orjson.loads(r["data"])}
            for r in rows]


_LEDGER_ONLY = ("effects", "key_id")


# ------------------------------------------------------------------------------------ catalog

def catalog_as_of(db: Connection | Engine, at: datetime) -> dict[str, str]:
    """number -> the version that was newest at `at` (the latest load at or before it).

    Versions are never deleted, so a procedure dropped from the YAML catalog still counts;
    an older version loaded again counts from its latest load (`Versions.publish` moves it).
    """
    if at.tzinfo is not None:  # stored as UTC; SQLite compares the naive text form
        at = at.astimezone(UTC).replace(tzinfo=None)
    pv = procedure_versions
    newest = (select(pv.c.number, func.max(pv.c.seq).label("seq"))
              .where(pv.c.loaded_at <= at).group_by(pv.c.number).subquery())
    with _conn(db) as conn:
        rows = conn.execute(select(pv.c.number, pv.c.version).join(
            newest, (newest.c.number == pv.c.number) & (newest.c.seq == pv.c.seq))).all()
    return {number: version for number, version in rows}


def migrations(trail) -> list[dict[str, Any]]:
    """The case's moves to other versions of its procedure (its `migrate` events), oldest first."""
    moves = []
    for action, _step, raw, at, actor in trail:
        if action == "migrate":
            payload = orjson.loads(raw)
            moves.append({"at": at, "actor": actor, "from": payload.get("from"),
                          "to": payload.get("to"), "diff": payload.get("diff") or {}})
    return moves

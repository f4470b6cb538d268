"""A country's volume: a database of `scale` cases for the benchmarks, made once and reused.

Method: **copying real cases' rows**. First a few hundred real cases are made through okno's own
use cases (`Cases.start`, `complete_task`, `withdraw`, `refuse_acceptance`, `close`) in the
states a year of work leaves (closed after approval or refusal, withdrawn, not accepted, completed
and not closed yet, open at their first task), in two authorities. Then each copy takes one real
case's rows (case, tasks, events, documents, timers) with distinct ids: the first 13 characters of
every id of the case (the case's and its tasks') become the copy's number, everywhere they occur
(the events' data and effects, an open case's workflow state). Each copy's audit chain is signed
again under the bench's audit key (the HMAC covers the case id): digests recomputed where the data
changed, every event's keyed hash, the case row's head. So `okno audit verify` holds for every
copy. An open copy gets its own due date (in its row, its task and its events' effects), spread
over sixty days around `TODAY`, so about half of them are overdue.

Shape: `OPEN_SHARE` of the cases are open, each with one open clerk task, all in authority `ORG`
(10,000 at 1,000,000 cases); the ended and closed ones are split between `ORG` and `OTHER`.
Rows are inserted in batches: `executemany` on SQLite, `COPY` on PostgreSQL.

Reuse: a database is kept under var/bench/ (SQLite, a file per scale) or on the server
(PostgreSQL, a database per scale) under a name that carries a fingerprint of the schema
(the migrations and tables.py) and of this generator, and is only made when missing: a changed
schema makes a new one. A SQLite file is written under a temporary name and renamed when
complete; a PostgreSQL database likewise. Remove var/bench/ (or drop the `okno_volume_*`
databases) to reclaim the space: about 6 KB per case on SQLite.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event, insert, make_url, select, text
from sqlalchemy.engine import Engine

from benchmarks.postgres import database_url
from engine.audit.chain import GENESIS, EventMac
from engine.audit.keys import Keyring
from engine.audit.ledger import Ledger
from engine.clock import FixedClock
from engine.definition.validation import load_catalog
from engine.runtime.commands import Cases
from engine.runtime.forms import example_form
from engine.store.connect import MIGRATIONS, connect
from engine.store.tables import case_documents, cases, events, tasks, timers
from engine.store.versions import Versions

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "var" / "bench"
GENERATOR = "3"  # raise when the copies change
AUDIT_KEY = "bench-audit-key-" + "z" * 40
ORG, OTHER = "bench-org", "bench-other"
CLERK = "bclerk"
NOW = datetime(2025, 6, 18, 7, 0, tzinfo=UTC)
TODAY = date(2025, 7, 20)  # the day the benchmarks read the lists on
OPEN_SHARE = 100  # one case in a hundred is open
BATCH = 5_000  # cases per insert batch
# Real cases per kind and authority: (kind, how many).
PLAN = (("approved", 30), ("refused", 10), ("withdrawn", 10), ("not_accepted", 10),
        ("completed", 4))
OPEN_NUMBERS = ("1.1.5", "2.1", "6.1.1")
OPEN_PER_NUMBER = 3


def keyring() -> Keyring:
    return Keyring.of(AUDIT_KEY)


def fingerprint() -> str:
    """The schema (migrations, tables) and this generator, in 10 hex digits."""
    h = hashlib.sha256(GENERATOR.encode())
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    h.update((ROOT / "engine" / "store" / "tables.py").read_bytes())
    return h.hexdigest()[:10]


# ------------------------------------------------------------------------------------ real cases

def _form(proc, step_id: str, outcome: str | None) -> dict[str, Any]:
    step = proc.step(step_id)
    data = example_form(step.fields)
    if step.kind == "decision":
        data["outcome"] = outcome or "approve"
        if outcome == "refuse":
            data["ground"] = proc.refusal_grounds[0].id
    return data


def _open_tasks(db: Engine, case_id: str) -> list[Any]:
    with db.connect() as conn:
        return conn.execute(select(tasks.c.id, tasks.c.step).where(
            tasks.c.case_id == case_id, tasks.c.state == "open").order_by(tasks.c.created_at)).all()


def real_cases(db: Engine) -> dict[str, list[str]]:
    """Real cases made through okno's use cases: kind -> case ids. Kinds: closed_<how it ended>,
    completed, open."""
    clock = FixedClock(NOW)
    versions = Versions(db, clock)
    catalog = load_catalog(ROOT / "procedures")
    versions.publish(catalog.values())
    engine = Cases(db, versions, clock, cache_size=256, ledger=Ledger(keyring(), None))
    made: dict[str, list[str]] = {}

    def start(number: str, authority: str) -> str:
        proc = catalog[number]
        category = proc.fee.categories[0].id if proc.fee.kind == "by_category" else None
        return engine.start(number, applicant="Иванов Иван Иванович", channel=proc.channels[0],
                            authority=authority, actor=CLERK, category=category)

    def run(case_id: str, outcome: str) -> None:
        proc = catalog["1.1.5"]
        for doc in proc.documents:  # intake waits for the documents the citizen presents
            engine.record_document(case_id, doc.id, "presented", actor=CLERK)
        while pending := _open_tasks(db, case_id):
            engine.complete_task(case_id, pending[0].id, _form(proc, pending[0].step, outcome),
                                 actor=CLERK)

    for authority in (ORG, OTHER):
        for kind, count in PLAN:
            for _ in range(count):
                case_id = start("1.1.5", authority)
                if kind in ("approved", "refused", "completed"):
                    run(case_id, "refuse" if kind == "refused" else "approve")
                elif kind == "withdrawn":
                    engine.withdraw(case_id, actor=CLERK, reason="передумал")
                else:
                    ground = catalog["1.1.5"].acceptance_refusal_grounds[0].id
                    engine.refuse_acceptance(case_id, ground, actor=CLERK)
                if kind != "completed":
                    engine.close(case_id, actor=CLERK)
                made.setdefault("completed" if kind == "completed" else "closed", []).append(case_id)
    for number in OPEN_NUMBERS:
        for _ in range(OPEN_PER_NUMBER):
            made.setdefault("open", []).append(start(number, ORG))
    return made


# ------------------------------------------------------------------------------------ copies

@dataclass
class Template:
    """One real case's rows, as Core reads them, and the ids its copies rewrite."""

    case: dict[str, Any]
    tasks: list[dict[str, Any]]
    events: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    prefixes: list[str]  # the first 13 characters of each id to rewrite

    @classmethod
    def read(cls, conn, case_id: str) -> Template:
        def rows(table, column):
            order = table.c.seq if table is events else list(table.primary_key.columns)[0]
            return [dict(r._mapping) for r in conn.execute(
                select(table).where(column == case_id).order_by(order))]

        case = dict(conn.execute(select(cases).where(cases.c.id == case_id)).one()._mapping)
        task_rows = rows(tasks, tasks.c.case_id)
        evs = rows(events, events.c.case_id)
        for e in evs:
            e.pop("gseq")
        ids = [case_id] + [t["id"] for t in task_rows]
        return cls(case, task_rows, evs, rows(case_documents, case_documents.c.case_id),
                   rows(timers, timers.c.case_id), [i[:13] for i in ids])


def _prefix(n: int) -> str:
    digits = f"{n:012x}"
    return f"{digits[:8]}-{digits[8:]}"


class Copier:
    """Makes copy number n of a template: rows with distinct ids and a re-signed chain."""

    def __init__(self) -> None:
        self.mac = EventMac(keyring().current)

    def copy(self, t: Template, n: int, due: date | None = None) -> dict[str, list[dict[str, Any]]]:
        new = _prefix(n)

        def ids(value: str) -> str:
            for old in t.prefixes:
                value = value.replace(old, new)
            return value

        case_id = new + t.case["id"][13:]
        old_due = t.case["due_date"].isoformat()
        state = t.case["state"]
        if t.case["status"] in ("open", "suspended"):  # a workflow that runs on: its ids too
            for old in t.prefixes:
                state = state.replace(old.encode(), new.encode())
        state_digests = (hashlib.sha256(t.case["state"]).hexdigest(), hashlib.sha256(state).hexdigest())
        prev, out_events = GENESIS, []
        for e in t.events:
            data = ids(e["data"])
            digest = e["digest"] if data == e["data"] else hashlib.sha256(
                orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)).hexdigest()
            effects = ids(e["effects"]).replace(*state_digests)
            if due is not None:
                effects = effects.replace(f'"due_date":"{old_due}"', f'"due_date":"{due.isoformat()}"')
            signed = self.mac(case_id, prev, e["seq"], e["at"], e["actor"], e["action"], e["step"],
                              digest, effects)
            out_events.append({**e, "case_id": case_id, "data": data, "digest": digest,
                               "effects": effects, "prev_hash": prev, "hash": signed})
            prev = signed
        case = {**t.case, "id": case_id, "last_hash": prev, "state": state}
        task_rows = [{**r, "id": new + r["id"][13:], "case_id": case_id} for r in t.tasks]
        if due is not None:
            case["due_date"] = due
            for r in task_rows:
                if r["due_date"] is not None and r["state"] == "open":
                    r["due_date"] = due
        return {"cases": [case], "tasks": task_rows, "events": out_events,
                "case_documents": [{**r, "case_id": case_id} for r in t.documents],
                "timers": [{**r, "case_id": case_id, "task_id": ids(r["task_id"])} for r in t.timers]}


_TABLES = {"cases": cases, "tasks": tasks, "events": events, "case_documents": case_documents,
           "timers": timers}


def _insert(conn, batch: dict[str, list[dict[str, Any]]]) -> None:
    """Insert a batch: COPY on PostgreSQL (the driver adapts Python values), else executemany."""
    for name, table in _TABLES.items():
        rows = batch[name]
        if not rows:
            continue
        if conn.dialect.name == "postgresql":
            columns = [c.key for c in table.columns if c.key in rows[0]]
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row[c] for c in columns))
        else:
            conn.execute(insert(table), rows)


def fill(db: Engine, scale: int, log=print) -> dict[str, Any]:
    """Make the real cases, then copies up to `scale` cases in all. Returns what was made."""
    started = time.perf_counter()
    made = real_cases(db)
    with db.connect() as conn:
        templates = {kind: [Template.read(conn, i) for i in ids] for kind, ids in made.items()}
    real = sum(len(ids) for ids in made.values())
    ended = templates["closed"] + templates["completed"]
    copier = Copier()
    wanted_open = max(0, scale // OPEN_SHARE - len(templates["open"]))
    copies = max(0, scale - real)
    batch: dict[str, list] = {name: [] for name in _TABLES}
    in_batch = 0
    for k in range(copies):
        n = k + 1
        if k < wanted_open:  # the open ones first, each with its own due date
            rows = copier.copy(templates["open"][k % len(templates["open"])], n,
                               due=TODAY + timedelta(days=(k % 60) - 30))
        else:
            rows = copier.copy(ended[k % len(ended)], n)
        for name, found in rows.items():
            batch[name].extend(found)
        in_batch += 1
        if in_batch == BATCH or k == copies - 1:
            with db.begin() as conn:
                _insert(conn, batch)
            batch = {name: [] for name in _TABLES}
            in_batch = 0
            if (k + 1) % (BATCH * 20) == 0:
                log(f"    {k + 1:,} copies ({time.perf_counter() - started:.0f} s)")
    if db.dialect.name == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum does after a large load
    return {"real": real, "copies": copies, "open": wanted_open + len(templates["open"]),
            "seconds": time.perf_counter() - started, "real_cases": made}


# ------------------------------------------------------------------------------------ databases

def sqlite_database(scale: int, log=print) -> tuple[Engine, dict[str, Any] | None]:
    """The SQLite database of `scale` cases under var/bench/ (made when missing); and what was
    made (None when an existing one was reused)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"volume-{scale}-{fingerprint()}.db"
    made = None
    if not path.exists():
        for old in FOLDER.glob(f"volume-{scale}-*"):
            old.unlink()  # another schema's: not reusable
        partial = path.with_suffix(".partial")
        log(f"  making {path.name} ({scale:,} cases)…")
        db = connect(f"sqlite:///{partial}")
        # A generated file: a large page cache (the indexes outgrow the default 2 MB and every
        # insert then waits for the disk) and no fsync (a crash leaves only the .partial file).
        event.listen(db, "connect", _loading_pragmas)
        db.dispose()
        made = fill(db, scale, log)
        with db.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        partial.rename(path)
    return connect(f"sqlite:///{path}"), made


def _loading_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA cache_size=-1000000")
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def postgres_database(server_url: str, scale: int, log=print) -> tuple[Engine, dict[str, Any] | None]:
    """The database of `scale` cases on the PostgreSQL server of `server_url` (made when
    missing, under a temporary name renamed when complete)."""
    url = make_url(server_url)
    name = f"okno_volume_{scale}_{fingerprint()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    made = None
    with admin.connect() as conn:
        have = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
        if name not in have:
            for old in have:
                if old.startswith(f"okno_volume_{scale}_"):
                    conn.execute(text(f'DROP DATABASE "{old}"'))
            conn.execute(text(f'CREATE DATABASE "{name}_partial"'))
    if name not in have:
        log(f"  making PostgreSQL database {name} ({scale:,} cases)…")
        db = connect(database_url(server_url, f"{name}_partial"))
        made = fill(db, scale, log)
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}_partial" RENAME TO "{name}"'))
    admin.dispose()
    return connect(database_url(server_url, name)), made



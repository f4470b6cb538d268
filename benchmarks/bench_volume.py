"""A country's volume (issue 10): the clerk's lists, a step and a closed case's bytes at 1,000
cases and at `OKNO_BENCH_SCALE` cases (default 20,000; the goal is stated at 1,000,000), on
SQLite and, when `OKNO_BENCH_DATABASE_URL` names a server (benchmarks/postgres.py), on PostgreSQL.

The databases come from benchmarks/volume.py (real cases copied with distinct ids and re-signed
audit chains; one case in a hundred open, each with one open clerk task, all in one authority:
10,000 open tasks at 1,000,000 cases) and are reused between runs while the schema is unchanged.
Making them: about 20 s (SQLite) and 60 s (PostgreSQL) at the default scale; at 1,000,000 cases
tens of minutes and about 13 GB per database (see the report printed).

    make bench                                              # SQLite, 1,000 and 20,000 cases
    OKNO_BENCH_SCALE=1000000 OKNO_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks volume               # both databases, 1,000,000 cases

`OKNO_BENCH_DATABASES` (default `sqlite,postgresql`) picks the kinds of database.

Figures (every one the median of RUNS runs):
- each list read READS times: the API's work list (GET /api/tasks for a clerk), the desk's page
  (/desk) for a clerk and for a supervisor, the overdue tasks (GET /api/tasks?overdue=true) and the
  dashboard's overdue cases: p50 and p95 in ms, and the ratio of the large scale to 1,000 cases.
  Goal: p95 under 20 ms at 1,000,000 cases, flat in the number of open tasks;
- one step (`Cases.complete_task`, no live cache: the state is read and written) on a case
  started in the large database: median ms at both scales and the ratio. Goal: flat;
- the bytes one closed case stores in its rows (cases, tasks, events, documents: the sum of its
  column values' sizes, `length()` on SQLite, `pg_column_size` on PostgreSQL), for a case of the
  housing register closed after approval, against the same case completed and not closed (its
  full workflow state); and the whole database's size per case (indexes included). Goal: a closed
  case at most 4 KB.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from benchmarks import postgres, volume
from engine.audit.ledger import Ledger
from engine.clock import FixedClock
from engine.definition.validation import load_catalog
from engine.read import dashboard, queries, worklist
from engine.runtime.commands import Cases
from engine.store.tables import cases
from engine.store.versions import Versions
from engine.terms import default_calendar

SMALL = 1_000
SCALE = int(os.environ.get("OKNO_BENCH_SCALE", "20000"))
DATABASES = os.environ.get("OKNO_BENCH_DATABASES", "sqlite,postgresql").split(",")
RUNS = 3
READS = 40
STEP_CASES = 8  # cases run to their end per run of the step measurement
GOAL_MS, GOAL_BYTES = 20.0, 4096
TODAY = volume.TODAY


def _reads(db: Engine) -> dict[str, Callable[[], object]]:
    calendar = default_calendar()
    clerk = worklist.Scope.of("clerk", volume.CLERK, volume.ORG)
    supervisor = worklist.Scope.of("supervisor", "bsuper", volume.ORG)
    return {
        "work list (API, clerk)": lambda: queries.worklist(
            db, authority=volume.ORG, acts_as="clerk", state="open", unassigned_or=volume.CLERK,
            today=TODAY, limit=50),
        "desk page (clerk)": lambda: worklist.desk_page(
            db, clerk, worklist.DeskFilter(), user=volume.CLERK, today=TODAY, calendar=calendar),
        "desk page (supervisor)": lambda: worklist.desk_page(
            db, supervisor, worklist.DeskFilter(), user="bsuper", today=TODAY, calendar=calendar),
        "overdue tasks (API)": lambda: queries.worklist(
            db, authority=volume.ORG, acts_as=("clerk", "supervisor"), state="open", overdue=True,
            today=TODAY, limit=50),
        "overdue cases (dashboard)": lambda: dashboard.overdue_cases(db, volume.ORG, TODAY, limit=50),
    }


def _percentiles(read: Callable[[], object]) -> tuple[float, float, float, float]:
    """p50 and p95 of wall time, then of this process's CPU time (ms). On a shared machine the
    wall time includes waiting for a core; the CPU time is the read's own work (on SQLite all
    of it; on PostgreSQL only the client's, the server's is not in it)."""
    for _ in range(3):
        read()  # warm: the pages the read needs in the cache, as on a busy server
    wall, cpu = [], []
    for _ in range(READS):
        started, started_cpu = time.perf_counter(), time.process_time()
        read()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    wall.sort()
    cpu.sort()
    at95 = min(READS - 1, int(0.95 * READS))
    return statistics.median(wall), wall[at95], statistics.median(cpu), cpu[at95]


def _step_ms(db: Engine) -> float:
    """Median ms of one `complete_task` (no live cache) on cases started in `db` (authority
    bench-steps, run to their end: no open task is left in the lists' authority)."""
    clock = FixedClock(datetime(2025, 6, 18, 7, 0, tzinfo=UTC))
    versions = Versions(db, clock)
    catalog = load_catalog(volume.ROOT / "procedures")
    versions.publish(catalog.values())
    engine = Cases(db, versions, clock, cache_size=0, ledger=Ledger(volume.keyring(), None))
    proc = catalog["1.1.5"]
    times = []
    for _ in range(STEP_CASES):
        case_id = engine.start("1.1.5", applicant="Петров Пётр", channel=proc.channels[0],
                               authority="bench-steps", actor=volume.CLERK)
        for doc in proc.documents:  # intake waits for them (untimed: not a step)
            engine.record_document(case_id, doc.id, "presented", actor=volume.CLERK)
        while pending := volume._open_tasks(db, case_id):
            data = volume._form(proc, pending[0].step, "approve")
            started = time.perf_counter()
            engine.complete_task(case_id, pending[0].id, data, actor=volume.CLERK)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _case_bytes(db: Engine, case_id: str) -> int:
    """The bytes of one case's rows: the sum of its column values' stored sizes."""
    with db.connect() as conn:
        if conn.dialect.name == "postgresql":
            total = 0
            for table, column in (("cases", "id"), ("tasks", "case_id"), ("events", "case_id"),
                                  ("case_documents", "case_id")):
                total += conn.execute(text(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) "
                                           f"FROM {table} t WHERE {column} = :id"),
                                      {"id": case_id}).scalar_one()
            return int(total)
        total = 0
        for table, column in (("cases", "id"), ("tasks", "case_id"), ("events", "case_id"),
                              ("case_documents", "case_id")):
            names = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
            size = " + ".join(f"coalesce(length({n}), 0)" for n in names)
            total += conn.execute(text(f"SELECT coalesce(sum({size}), 0) FROM {table} "
                                       f"WHERE {column} = :id"), {"id": case_id}).scalar_one()
        return int(total)


def _database_bytes(db: Engine) -> tuple[int, int]:
    with db.connect() as conn:
        count = conn.execute(select(func.count()).select_from(cases)).scalar_one()
        if conn.dialect.name == "postgresql":
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        else:
            size = (conn.exec_driver_sql("PRAGMA page_count").scalar_one()
                    * conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    return int(size), int(count)


def _housing_case(db: Engine, status: str) -> str:
    with db.connect() as conn:
        return conn.execute(select(cases.c.id).where(
            cases.c.number == "1.1.5", cases.c.status == status, cases.c.outcome == "approved",
            cases.c.authority == volume.ORG).order_by(cases.c.id).limit(1)).scalar_one()


def _explain(db: Engine) -> None:
    """The plan of the clerk's work list and the overdue cases at the large scale."""
    with db.connect() as conn:
        for label, stmt in (("work list", _worklist_statement()), ("overdue", _overdue_statement())):
            compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
            plan = [" ".join(str(v) for v in r) for r in conn.exec_driver_sql(prefix + str(compiled))]
            print(f"    plan of the {label}: " + " | ".join(p.strip() for p in plan[:6]))


def _worklist_statement():
    from engine.store.tables import tasks

    return (select(*queries.TASK_COLUMNS, cases.c.status, cases.c.number)
            .join_from(tasks, cases, cases.c.id == tasks.c.case_id)
            .where(tasks.c.authority == volume.ORG, tasks.c.acts_as == "clerk", tasks.c.state == "open",
                   tasks.c.assignee.is_(None) | (tasks.c.assignee == volume.CLERK))
            .order_by(tasks.c.due_date, tasks.c.created_at, tasks.c.id).limit(50))


def _overdue_statement():
    return (select(cases.c.id, cases.c.number, cases.c.due_date)
            .where(cases.c.authority == volume.ORG, cases.c.status == "open", cases.c.due_date < TODAY)
            .order_by(cases.c.due_date, cases.c.id).limit(50))


def measure(name: str, databases: dict[int, Engine]) -> dict:
    """Every figure on one kind of database, at both scales."""
    out: dict = {"reads": {}, "step": {}, "bytes": {}}
    for scale, db in databases.items():
        reads = _reads(db)
        runs = {label: [_percentiles(read) for _ in range(RUNS)] for label, read in reads.items()}
        for label, found in runs.items():
            out["reads"].setdefault(label, {})[scale] = tuple(
                statistics.median(p[i] for p in found) for i in range(4))
        out["step"][scale] = statistics.median(_step_ms(db) for _ in range(RUNS))
    large = databases[max(databases)]
    closed, completed = _housing_case(large, "closed"), _housing_case(large, "completed")
    size, count = _database_bytes(large)
    out["bytes"] = {"closed": _case_bytes(large, closed), "completed": _case_bytes(large, completed),
                    "database": size, "cases": count}
    _report(name, out, large)
    return out


def _report(name: str, out: dict, large: Engine) -> None:
    small, big = SMALL, SCALE
    print(f"  {name}: medians of {RUNS} runs of {READS} reads; {small:,} and {big:,} cases "
          f"({big // volume.OPEN_SHARE:,} open tasks in one authority at {big:,})")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"    wall p50/p95 ms, then CPU p50/p95 ms (this process), at {small:,} | at {big:,} | "
          f"ratio of p95 (wall, CPU); goal: wall p95 < {GOAL_MS:.0f} ms (load average {load:.1f} "
          f"on {os.cpu_count()} CPUs)")
    for label, by_scale in out["reads"].items():
        (a50, a95, c50, c95), (b50, b95, d50, d95) = by_scale[small], by_scale[big]
        verdict = "met" if b95 < GOAL_MS else "NOT met"
        print(f"    {label:26s} {a50:6.2f} {a95:6.2f} cpu {c50:5.2f} {c95:5.2f} | {b50:6.2f} {b95:6.2f} "
              f"cpu {d50:5.2f} {d95:5.2f} | x{b95 / a95:4.2f} x{d95 / max(c95, 1e-3):4.2f}  {verdict}")
    s1, s2 = out["step"][small], out["step"][big]
    print(f"    one step (complete_task, no live cache): {s1:.2f} ms @ {small:,}, {s2:.2f} ms @ "
          f"{big:,} (x{s2 / s1:.2f})")
    b = out["bytes"]
    print(f"    a closed case's rows: {b['closed']:,} bytes (the same case completed, full "
          f"workflow state: {b['completed']:,}); goal <= {GOAL_BYTES:,}: "
          f"{'met' if b['closed'] <= GOAL_BYTES else 'NOT met'}")
    print(f"    the database: {b['database'] / 2**20:,.0f} MiB for {b['cases']:,} cases, "
          f"{b['database'] / b['cases'] / 1024:.1f} KiB per case with indexes")
    _explain(large)


def main() -> None:
    started = time.perf_counter()
    if "sqlite" in DATABASES:
        _sqlite()
    if "postgresql" in DATABASES:
        _postgresql()
    print(f"  ({time.perf_counter() - started:.0f} s)")


def _sqlite() -> None:
    sqlite = {}
    for scale in (SMALL, SCALE):
        db, made = volume.sqlite_database(scale)
        if made is not None:
            print(f"  made SQLite {scale:,}: {made['real']} real cases, {made['copies']:,} copies, "
                  f"{made['open']:,} open, {made['seconds']:.0f} s")
        sqlite[scale] = db
    measure("SQLite", sqlite)


def _postgresql() -> None:
    server = postgres.server_url()
    if server is None:
        print("  PostgreSQL: skipped (set OKNO_BENCH_DATABASE_URL to a server, see benchmarks/postgres.py)")
    else:
        pg = {}
        for scale in (SMALL, SCALE):
            db, made = volume.postgres_database(server, scale)
            if made is not None:
                print(f"  made PostgreSQL {scale:,}: {made['real']} real cases, {made['copies']:,} "
                      f"copies, {made['open']:,} open, {made['seconds']:.0f} s")
            pg[scale] = db
        measure("PostgreSQL", pg)


if __name__ == "__main__":
    main()

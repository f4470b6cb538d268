"""The read side at scale: case lists and work lists with 1,000 and with 200,000 cases stored.

A clerk's work list and a supervisor's case lists must not slow down as the years of cases pile
up. Cases are stored by copying the row of a real started case (one authority, so every list
covers them all), and each case gets five task rows of which one in a hundred is open. Figures
are medians of 15 reads; the ratio 200,000 : 1,000 is what to watch (an index range stays about
flat; a sort or a scan grows with the table).

Measured 2026-11-22: a page of cases is an index range (0.1 ms for the first page of 200,000, 2 ms
for the 100th); what grows is the exact `total` each list answers with, a count of every matching
row (~13 ms for 200,000 cases of one authority). Work lists grow with the *open* tasks they
count (here one case in a hundred keeps one open, so 10 → 2,000), not with the closed ones.
"""
from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from benchmarks.bench_engine import _fill, _Setup
from engine.read import queries
from engine.store.tables import cases, tasks

SIZES = (1_000, 200_000)
TODAY = date(2025, 7, 20)


def _median_ms(read: Callable[[], object], rounds: int = 15) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _add_tasks(setup: _Setup, case_ids: list[str]) -> None:
    """Five task rows per case (one case in a hundred has an open one), due over two months."""
    with setup.db.connect() as conn:
        template = dict(conn.execute(select(tasks)).first()._mapping)
    rows: list[dict] = []
    with setup.db.begin() as conn:
        for i, case_id in enumerate(case_ids):
            for k in range(5):
                rows.append({**template, "id": str(uuid.uuid4()), "case_id": case_id,
                             "state": "open" if k == 4 and i % 100 == 0 else "done",
                             "due_date": date(2025, 7, 1) + timedelta(days=i % 60)})
            if len(rows) >= 20_000:
                conn.execute(insert(tasks), rows)
                rows = []
        if rows:
            conn.execute(insert(tasks), rows)


def main() -> None:
    reads = {
        "clerk's work list": lambda db: queries.worklist(
            db, authority="org", acts_as=("clerk",), state="open", unassigned_or="clerk", today=TODAY),
        "overdue tasks": lambda db: queries.worklist(
            db, authority="org", acts_as=("clerk", "supervisor"), state="open", overdue=True,
            today=TODAY),
        "cases, first page": lambda db: queries.list_cases(db, authority="org"),
        "open cases": lambda db: queries.list_cases(db, authority="org", status="open"),
        "overdue cases": lambda db: queries.list_cases(db, authority="org", overdue=True),
        "cases, page 100": lambda db: queries.list_cases(db, authority="org", offset=4950),
        "an applicant's cases": lambda db: queries.list_cases(db, applicant_user="ivan"),
    }
    results: dict[str, list[float]] = {name: [] for name in reads}
    with tempfile.TemporaryDirectory() as tmp:
        setup = _Setup(Path(tmp), "queries.db", cache_size=0)
        setup.start()
        have: set[str] = set()
        for size in SIZES:
            _fill(setup, size)
            with setup.db.begin() as conn:  # spread the start times, as real cases have them
                conn.execute(text("UPDATE cases SET started_at = "
                                  "datetime('2025-01-01', '+' || (rowid % 100000) || ' minutes')"))
                ids = [i for i in conn.execute(select(cases.c.id)).scalars() if i not in have]
            _add_tasks(setup, ids)
            have.update(ids)
            for name, read in reads.items():
                results[name].append(_median_ms(lambda r=read: r(setup.db)))
    small, large = SIZES
    print(f"queries: medians of 15 reads, {small:,} and {large:,} cases stored "
          f"({5 * large:,} task rows at the end)")
    print(f"  {'':24s} {small:>10,} {large:>10,}  ratio")
    for name, (a, b) in results.items():
        print(f"  {name:24s} {a:8.2f} ms {b:8.2f} ms  x{b / a:.1f}")


if __name__ == "__main__":
    main()

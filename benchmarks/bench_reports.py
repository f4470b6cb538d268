"""The report over many appeals: `engine.reports.figures` for one authority and three years.

The appeals are generated in the database by one set-based statement (SQLite's recursive common
table expression feeding `INSERT INTO cases … SELECT`, no Python per row): all of them registered
by one authority over 2023-2025, so the report covers every one (the worst case: the figures
read all the rows of the period). They spread over the three channels, three kinds, eight
topics, the reply outcomes, leaving without consideration on five grounds, withdrawal, and still
open (mostly overdue); every tenth answered appeal is rated. A few thousand procedure cases sit
beside them so the query must keep to its type.

Printed: how long generating took (with every index of `cases` maintained), then the report's
time: the first run (cold: the pages come from the file) and the median of five.
Size: OKNO_BENCH_APPEALS (default 200,000; the acceptance figure is 1,000,000:
`OKNO_BENCH_APPEALS=1000000 make bench` or `python -m benchmarks reports`). Goal: under 2 s.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from engine.clock import DEFAULT_ZONE
from engine.ratings.register import period
from engine.reports import figures
from engine.store.connect import connect

APPEALS = int(os.environ.get("OKNO_BENCH_APPEALS", "200000"))
PROCEDURES = 5_000
AUTHORITY = "minsk-sovetsky"
GOAL_SECONDS = 2.0

_VERSION = ("INSERT INTO procedure_versions (version, number, name, definition, source, loaded_at, "
            "seq) VALUES (:v, :n, 'bench', '{}', 'bench', '2023-01-01 00:00:00', :seq)")
# i = 1..N. Outcome by i % 20: 0-11 answered (satisfied, not_satisfied, explained in turn), 12-13
# left without consideration, 14 withdrawn, 15-19 still open. Ended after (i / 20) % 20 days (on
# time up to 15). Started over 1,095 days from 2023-01-01.
_GENERATE = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO cases (id, number, version, type, reg_number, kind, topic, status, outcome, ground,
                   applicant, applicant_user, channel, authority, exempt, fee, started_at,
                   start_date, due_date, documents_requested, paused_days, overdue, closed_at,
                   row_version, last_hash, state, state_format, spiff_version)
SELECT printf('%s-%012d', :prefix, i), :number, :version, :type, NULL,
       CASE WHEN :type = 'appeal' THEN (CASE i % 7 WHEN 5 THEN 'proposal' WHEN 6 THEN 'complaint'
                                        ELSE 'statement' END) END,
       CASE WHEN :type = 'appeal' THEN (CASE i % 8 WHEN 0 THEN 'housing' WHEN 1 THEN 'utilities'
            WHEN 2 THEN 'transport' WHEN 3 THEN 'roads' WHEN 4 THEN 'education'
            WHEN 5 THEN 'health' WHEN 6 THEN 'social' ELSE 'other' END) END,
       CASE WHEN i % 20 < 14 THEN 'completed' WHEN i % 20 = 14 THEN 'withdrawn' ELSE 'open' END,
       CASE WHEN i % 20 < 12 THEN (CASE WHEN :type = 'appeal'
                                        THEN (CASE i % 3 WHEN 0 THEN 'satisfied'
                                              WHEN 1 THEN 'not_satisfied' ELSE 'explained' END)
                                        ELSE (CASE i % 4 WHEN 0 THEN 'refused' ELSE 'approved' END)
                                   END)
            WHEN i % 20 < 14 THEN (CASE WHEN :type = 'appeal' THEN 'left_without_consideration'
                                        ELSE 'refused' END)
            WHEN i % 20 = 14 THEN (CASE WHEN :type = 'appeal' THEN 'withdrawn' END) END,
       CASE WHEN i % 20 IN (12, 13) THEN 'ground-' || ((i / 20) % 5) END,
       'Заявитель ' || i, NULL,
       CASE i % 3 WHEN 0 THEN :c0 WHEN 1 THEN :c1 ELSE :c2 END,
       :authority, 0, 0,
       datetime('2023-01-01 07:00:00', '+' || (i % 1095) || ' days'),
       date('2023-01-01', '+' || (i % 1095) || ' days'),
       date('2023-01-01', '+' || (i % 1095 + 15) || ' days'),
       0, 0, 0,
       CASE WHEN i % 20 < 15 THEN datetime('2023-01-01 09:00:00',
                                           '+' || (i % 1095 + (i / 20) % 20) || ' days') END,
       1, 'h', x'00', 'bench', '3.0'
FROM n
"""
_RATE = """
INSERT INTO ratings (case_id, applicant_user, authority, number, type, simplicity, information,
                     term, politeness, comment, created_at)
SELECT id, 'bench', authority, number, type, 1 + rowid % 5, 1 + rowid % 4, 1 + rowid % 3, 5, NULL,
       closed_at
FROM cases WHERE status = 'completed' AND rowid % 10 = 0
"""


def _fill(db_url: str) -> float:
    """Generate the cases; the secondary indexes of `cases` are dropped for the insert and built
    again after it (one sort each instead of a million index updates each)."""
    db = connect(db_url)
    started = time.perf_counter()
    with db.connect() as conn:
        indexes = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                    "AND tbl_name = 'cases' AND sql IS NOT NULL")).all()
    with db.begin() as conn:
        for name, _sql in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for seq, (version, number) in enumerate((("bench-appeal", "appeal"),
                                                 ("bench-procedure", "1.1.5")), start=1):
            conn.execute(text(_VERSION), {"v": version, "n": number, "seq": seq})
        conn.execute(text(_GENERATE), {"count": APPEALS, "prefix": "a", "number": "appeal",
                                       "version": "bench-appeal", "type": "appeal",
                                       "c0": "written", "c1": "oral", "c2": "electronic",
                                       "authority": AUTHORITY})
        conn.execute(text(_GENERATE), {"count": PROCEDURES, "prefix": "p", "number": "1.1.5",
                                       "version": "bench-procedure", "type": "procedure",
                                       "c0": "in_person", "c1": "post", "c2": "portal",
                                       "authority": AUTHORITY})
        for _name, sql in indexes:
            conn.execute(text(sql))
        conn.execute(text(_RATE))
    with db.connect() as conn:
        conn.execute(text("ANALYZE"))
    db.dispose()
    return time.perf_counter() - started


def _report(db) -> dict:
    scope = figures.Scope(AUTHORITY, period(date(2023, 1, 1), date(2025, 12, 31), DEFAULT_ZONE),
                          today=date(2026, 1, 15), utc_offset=timedelta(hours=3))
    with db.connect() as conn:
        return {"appeals": figures.appeals(conn, scope),
                "procedures": figures.procedures(conn, scope)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'reports.db'}"
        filled = _fill(url)
        print(f"reports: {APPEALS:,} appeals and {PROCEDURES:,} procedure cases generated "
              f"(INSERT … SELECT over a recursive CTE) in {filled:.1f} s")
        db = connect(url)
        start = time.perf_counter()
        report = _report(db)
        cold = time.perf_counter() - start
        times = []
        for _ in range(5):
            start = time.perf_counter()
            _report(db)
            times.append(time.perf_counter() - start)
        warm = statistics.median(times)
        a = report["appeals"]
        assert a["received"] == APPEALS, a["received"]
        print(f"  report over {a['received']:,} appeals: first {cold * 1000:.0f} ms, "
              f"median of 5 {warm * 1000:.0f} ms (goal < {GOAL_SECONDS:.0f} s: "
              f"{'met' if max(cold, warm) < GOAL_SECONDS else 'MISSED'})")
        print(f"  answered {a['answered']:,}, on time {a['on_time_share']:.1%}, overdue "
              f"{a['overdue']:,}, satisfied {a['satisfied_share']:.1%}, left without "
              f"consideration {a['left_without_consideration']:,}, average rating "
              f"{a['average_rating']} ({a['ratings']:,} ratings); at {datetime.now(UTC):%Y-%m-%d}")


if __name__ == "__main__":
    main()

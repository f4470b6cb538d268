"""The dashboard's figures (engine.read.dashboard) over cases run through the engine on a real
SQLite file, the clock moved between them; each expected figure is worked out by hand below."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from engine.accounts import add_user, disable_user
from engine.read import dashboard
from tests.casework import Engine

A, B = "org-a", "org-b"
MINSK = timedelta(hours=3)  # Europe/Minsk: UTC+3 all year
TODAY = date(2025, 6, 18)  # a Wednesday
PASSWORD = "a long enough password"


def at(day: str, hour: int = 7, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Authority A's cases (2.1: a 5-day term; 11.3.1: two months, may be suspended):

    | case | started    | due (5 days, off a weekend) | what happened                          |
    |------|------------|-----------------------------|----------------------------------------|
    | a1   | 2025-04-01 | 2025-04-07 (04-06 is Sunday) | decided 2025-04-02: on time, April     |
    | a2   | 2025-04-01 | 2025-04-07                   | decided 2025-04-20: late, April        |
    | a3   | 2025-04-01 | 2025-04-07                   | withdrawn: no decision, not counted    |
    | a4   | 2025-04-28 | 2025-05-05 (05-03 Saturday)  | decided 2025-04-30 22:30 UTC, which is |
    |      |            |                              | 05-01 01:30 in Minsk: on time, May     |
    | a5   | 2025-06-02 | 2025-06-09                   | open, intake claimed by clerk-x:       |
    |      |            |                              | 9 days overdue on 06-18                |
    | a6   | 2025-06-17 | 2025-06-23 (06-22 Sunday)    | open, intake unassigned: not overdue   |
    | a7   | 2025-06-10 | 2025-08-11 (2 months)        | 11.3.1, suspended: active, not overdue |
    Authority B: b1 (2.1) started 2025-06-02, open and overdue: never in A's figures.
    """
    eng = Engine(tmp_path_factory.mktemp("dashboard") / "okno.db", at=at("2025-04-01"))
    for name, role, org in (("clerk-x", "clerk", A), ("clerk-y", "clerk", A), ("sup", "supervisor", A),
                            ("clerk-z", "clerk", A), ("clerk-b", "clerk", B)):
        add_user(eng.db, name, PASSWORD, role, org)
    disable_user(eng.db, "clerk-z", at("2025-04-01"))
    ids: dict[str, str] = {}

    def start(key: str, when: datetime, number: str = "2.1", authority: str = A) -> str:
        eng.clock.at = when
        ids[key] = eng.start(number, authority=authority)
        return ids[key]

    for key in ("a1", "a2", "a3"):
        start(key, at("2025-04-01"))
    eng.clock.at = at("2025-04-02")
    eng.run_to_end(ids["a1"])
    eng.clock.at = at("2025-04-20")
    eng.run_to_end(ids["a2"])
    eng.cases.withdraw(ids["a3"], actor="clerk-x")
    start("a4", at("2025-04-28"))
    eng.clock.at = at("2025-04-30", 22, 30)
    eng.run_to_end(ids["a4"])
    start("a5", at("2025-06-02"))
    start("b1", at("2025-06-02"), authority=B)
    start("a7", at("2025-06-10"), number="11.3.1")
    eng.cases.suspend(ids["a7"], "citizenship_check", actor="clerk-x")
    start("a6", at("2025-06-17"))
    eng.clock.at = at("2025-06-18")
    intake = eng.open_tasks(ids["a5"])[0]
    eng.cases.claim(ids["a5"], intake["id"], actor="clerk-x")
    return {"db": eng.db, "ids": ids, "engine": eng}


def test_cases_by_status_counts_every_status_of_the_authority_only(world) -> None:
    # A: completed a1, a2, a4 = 3; withdrawn a3 = 1; open a5, a6 = 2; suspended a7 = 1.
    assert dashboard.cases_by_status(world["db"], A) == {
        "open": 2, "suspended": 1, "completed": 3, "withdrawn": 1, "not_accepted": 0, "closed": 0}
    assert dashboard.cases_by_status(world["db"], B)["open"] == 1


def test_overdue_cases_are_the_open_ones_past_their_due_date(world) -> None:
    # Only a5: due 06-09, today 06-18 -> 9 days late; its intake task is held by clerk-x.
    # a6 is due 06-23, a7 is suspended, b1 belongs to B.
    page = dashboard.overdue_cases(world["db"], A, TODAY)
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["id"] == world["ids"]["a5"] and item["number"] == "2.1"
    assert item["due_date"] == date(2025, 6, 9) and item["days_late"] == 9
    assert [(t["step"], t["assignee"]) for t in item["tasks"]] == [("intake", "clerk-x")]
    # On 06-09 itself nothing is overdue yet: the due date is the term's last day.
    assert dashboard.overdue_cases(world["db"], A, date(2025, 6, 9))["total"] == 0


def test_load_by_procedure_counts_active_cases_and_the_overdue_among_them(world) -> None:
    # 2.1: a5 and a6 are open (a5 overdue); 11.3.1: a7 suspended (its term stands still).
    assert dashboard.load_by_procedure(world["db"], A, TODAY) == [
        {"number": "2.1", "active": 2, "overdue": 1},
        {"number": "11.3.1", "active": 1, "overdue": 0}]


def test_load_by_clerk_lists_every_enabled_clerk_and_the_unclaimed_tasks_last(world) -> None:
    # clerk-x holds a5's intake (due 06-09: overdue). clerk-y and sup hold nothing; clerk-z is
    # disabled, so not listed. Nobody holds a6's intake (due 06-23) and a7's intake (due with
    # its case, 08-11): 2 unclaimed, none overdue. B's clerk and task are not here.
    assert dashboard.load_by_clerk(world["db"], A, TODAY) == [
        {"assignee": "clerk-x", "role": "clerk", "open": 1, "overdue": 1},
        {"assignee": "clerk-y", "role": "clerk", "open": 0, "overdue": 0},
        {"assignee": "sup", "role": "supervisor", "open": 0, "overdue": 0},
        {"assignee": None, "role": None, "open": 2, "overdue": 0}]


def test_on_time_share_per_month_in_the_authoritys_time(world) -> None:
    # April: a1 on time, a2 late (a3 withdrawn: no decision) -> 1 of 2. May: a4, closed on
    # 04-30 at 22:30 UTC = 05-01 in Minsk, due 05-05 -> 1 of 1. June: no decision yet.
    months = dashboard.on_time_share(world["db"], A, TODAY, months=3, utc_offset=MINSK)
    assert [(m["month"], m["decided"], m["on_time"], m["share"]) for m in months] == [
        ("2025-04", 2, 1, 0.5), ("2025-05", 1, 1, 1.0), ("2025-06", 0, 0, None)]
    # Counted in UTC days instead, a4 falls in April: 2 of 3.
    utc = dashboard.on_time_share(world["db"], A, TODAY, months=3)
    assert [(m["decided"], m["on_time"]) for m in utc] == [(3, 2), (0, 0), (0, 0)]
    # The window is bounded and always whole months, oldest first.
    assert len(dashboard.on_time_share(world["db"], A, TODAY, months=10_000)) == dashboard.MAX_MONTHS
    assert dashboard.on_time_share(world["db"], A, date(2025, 1, 31), months=2)[0]["month"] == "2024-12"


def test_open_tasks_and_assignable_staff(world) -> None:
    # Open tasks of A, earliest due first: a5 intake (06-09), a6 intake (06-23), a7 intake (08-11).
    page = dashboard.open_tasks(world["db"], A)
    assert page["total"] == 3
    assert [t["case_id"] for t in page["items"]] == [world["ids"][k] for k in ("a5", "a6", "a7")]
    assert dashboard.open_tasks(world["db"], A, limit=10_000)["limit"] == dashboard.MAX_ROWS
    assert dashboard.assignable_staff(world["db"], A) == [
        {"name": "clerk-x", "role": "clerk"}, {"name": "clerk-y", "role": "clerk"},
        {"name": "sup", "role": "supervisor"}]


def test_the_counts_stop_at_their_cap(world, monkeypatch) -> None:
    from engine.read import queries

    assert dashboard.open_tasks(world["db"], A)["total_capped"] is False
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    page = dashboard.open_tasks(world["db"], A)
    assert (page["total"], page["total_capped"], len(page["items"])) == (2, True, 3)
    monkeypatch.setattr(queries, "COUNT_CAP", 1)
    late = dashboard.overdue_cases(world["db"], A, TODAY)
    assert (late["total"], late["total_capped"]) == (1, False)  # exactly one: not more


@pytest.mark.sqlite_only  # reads SQLite's EXPLAIN QUERY PLAN
def test_the_figures_come_from_indexes(world) -> None:
    """Each statement the dashboard runs reads cases and tasks through an index (the ones of
    migration 0010 for the aggregates): none scans a whole table."""
    db, seen = world["db"], []

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(db, "before_cursor_execute", remember)
    try:
        with db.connect() as conn:
            dashboard.cases_by_status(conn, A)
            dashboard.overdue_cases(conn, A, TODAY)
            dashboard.load_by_procedure(conn, A, TODAY)
            dashboard.load_by_clerk(conn, A, TODAY)
            dashboard.on_time_share(conn, A, TODAY, utc_offset=MINSK)
            dashboard.open_tasks(conn, A)
    finally:
        event.remove(db, "before_cursor_execute", remember)
    selects = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    with db.connect() as conn:
        plans = [" | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                                                     params))
                 for sql, params in selects]
    assert len(plans) == 10, [sql for sql, _ in selects]
    for plan in plans:
        for table in ("cases", "tasks"):
            assert not re.search(rf"SCAN {table}(?! USING)", plan), plan
    used = " ".join(plans)
    for index in ("ix_cases_authority_status_due", "ix_cases_authority_closed",
                  "ix_tasks_authority_state"):
        assert index in used, index

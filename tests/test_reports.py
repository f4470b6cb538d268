"""Reports (engine.reports.figures, GET /api/reports): each figure over a real SQLite file,
worked out by hand, as JSON, CSV and XLSX; who may read them.

Appeals: CORE's appeal definitions and commands are not on this branch yet, so the appeal rows
are a local fixture (`_appeal`): copies of a real case row with the columns an appeal has
(type, kind, topic, outcome, ground; docs/appeals.md). Procedure cases run through the engine.
"""
from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import insert, select, update

from engine.store.tables import cases, ratings
from tests.test_api_support import Api

A = "minsk-sovetsky"
NUMBER = "2.1"  # five days


def _appeal(api: Api, template: dict, *, start: str, channel: str = "written",
            kind: str = "statement", topic: str = "housing", status: str = "completed",
            outcome: str | None = "explained", ground: str | None = None,
            closed: str | None = None, due: str | None = None, authority: str = A) -> str:
    """LOCAL FIXTURE until CORE's appeals merge: an appeal row as CORE stores one."""
    start_day = date.fromisoformat(start)
    row = {**template, "id": str(uuid.uuid4()), "number": "appeal", "type": "appeal",
           "kind": kind, "topic": topic, "status": status, "outcome": outcome, "ground": ground,
           "channel": channel, "authority": authority, "reg_number": None,
           "started_at": datetime.combine(start_day, datetime.min.time()) + timedelta(hours=6),
           "start_date": start_day,
           "due_date": date.fromisoformat(due) if due else start_day + timedelta(days=15),
           "closed_at": datetime.fromisoformat(closed) if closed else None}
    with api.db.begin() as conn:
        conn.execute(insert(cases), row)
    return row["id"]


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    """Authority A, registered in April 2025 (today: 2025-06-18):

    appeals (due 15 days after registration unless said):
    | # | registered | channel    | kind      | topic     | what                                    |
    |---|------------|------------|-----------|-----------|-----------------------------------------|
    | 1 | 04-01      | written    | statement | housing   | satisfied 04-10: on time                |
    | 2 | 04-01      | electronic | complaint | housing   | not_satisfied 04-16 20:59 UTC = 23:59   |
    |   |            |            |           |           | local on the due day 04-16: on time     |
    | 3 | 04-01      | electronic | complaint | transport | explained 04-16 21:00 UTC = 04-17 local: |
    |   |            |            |           |           | late                                    |
    | 4 | 04-02      | oral       | proposal  | transport | left without consideration, "repeated"  |
    | 5 | 04-03      | written    | statement | housing   | left without consideration, "repeated"  |
    | 6 | 04-04      | written    | statement | roads     | left without consideration, "anonymous" |
    | 7 | 04-05      | electronic | statement | roads     | withdrawn                               |
    | 8 | 04-06      | written    | statement | housing   | open, due 04-21: overdue                |
    | 9 | 06-10      | written    | statement | housing   | open, due 06-25: not overdue            |
    | - | 03-31      | written    | ...       |           | before the period: not counted          |
    | - | 04-01      | written    | at authority B: not counted              |
    Answered 3 (1-3), on time 2, satisfied 1. Ratings: appeal 1 graded 5 5 5 5, appeal 2
    graded 1 2 3 4 (average 2.5): the appeals' average rating (5 + 2.5) / 2 = 3.75.

    procedures (2.1, registered 2025-06-18 by the API's clock): one approved, one refused, one
    withdrawn, one open (not overdue: due 06-23).
    """
    api = Api(tmp_path_factory.mktemp("reports"))
    first = api.start(NUMBER)
    with api.db.connect() as conn:
        template = dict(conn.execute(select(cases).where(cases.c.id == first["id"])).one()._mapping)
    ids = [
        _appeal(api, template, start="2025-04-01", outcome="satisfied", closed="2025-04-10 09:00"),
        _appeal(api, template, start="2025-04-01", channel="electronic", kind="complaint",
                outcome="not_satisfied", closed="2025-04-16 20:59"),
        _appeal(api, template, start="2025-04-01", channel="electronic", kind="complaint",
                topic="transport", outcome="explained", closed="2025-04-16 21:00"),
        _appeal(api, template, start="2025-04-02", channel="oral", kind="proposal",
                topic="transport", outcome="left_without_consideration", ground="repeated",
                closed="2025-04-03 09:00"),
        _appeal(api, template, start="2025-04-03", outcome="left_without_consideration",
                ground="repeated", closed="2025-04-04 09:00"),
        _appeal(api, template, start="2025-04-04", topic="roads",
                outcome="left_without_consideration", ground="anonymous", closed="2025-04-05 09:00"),
        _appeal(api, template, start="2025-04-05", channel="electronic", topic="roads",
                status="withdrawn", outcome="withdrawn", closed="2025-04-06 09:00"),
        _appeal(api, template, start="2025-04-06", status="open", outcome=None),
        _appeal(api, template, start="2025-06-10", status="open", outcome=None),
    ]
    _appeal(api, template, start="2025-03-31", outcome="satisfied", closed="2025-04-01 09:00")
    _appeal(api, template, start="2025-04-01", authority="minsk-frunzensky", outcome="satisfied",
            closed="2025-04-02 09:00")
    with api.db.begin() as conn:
        for case_id, (s, i, t, p) in ((ids[0], (5, 5, 5, 5)), (ids[1], (1, 2, 3, 4))):
            conn.execute(insert(ratings), {
                "case_id": case_id, "applicant_user": "ivan", "authority": A, "number": "appeal",
                "type": "appeal", "simplicity": s, "information": i, "term": t, "politeness": p,
                "comment": None, "created_at": datetime(2025, 4, 20, 9, 0, tzinfo=UTC)})
    assert api.advance(first["id"], NUMBER)["status"] == "completed"
    refused = api.start(NUMBER)
    for _ in range(10):
        tasks = api.open_tasks(refused["id"])
        if not tasks:
            break
        outcome = "refuse" if tasks[0]["kind"] == "decision" else "approve"
        assert api.complete(refused["id"], tasks[0], NUMBER, outcome).status_code == 200
    withdrawn = api.start(NUMBER)
    api.post(f"/api/cases/{withdrawn['id']}/withdraw", "ivan", {})
    api.start(NUMBER)
    with api.db.begin() as conn:  # the appeals' period: only appeals; the procedures' own below
        conn.execute(update(cases).where(cases.c.type == "procedure")
                     .values(start_date=date(2025, 6, 18)))
    return api


def _report(api: Api, user: str = "supervisor", **query: str):
    return api.get("/api/reports", user, params={"authority": A, **query})


def test_the_appeals_figures(api):
    r = _report(api, **{"from": "2025-04-01", "to": "2025-06-30"})
    assert r.status_code == 200, r.text
    a = r.json()["appeals"]
    assert a["received"] == 9
    assert a["by_channel"] == [{"channel": "written", "count": 5},
                               {"channel": "electronic", "count": 3},
                               {"channel": "oral", "count": 1}]
    assert a["by_kind"] == [{"kind": "statement", "count": 6}, {"kind": "complaint", "count": 2},
                            {"kind": "proposal", "count": 1}]
    assert a["by_topic"] == [{"topic": "housing", "count": 5}, {"topic": "roads", "count": 2},
                             {"topic": "transport", "count": 2}]
    assert (a["answered"], a["answered_on_time"], a["on_time_share"]) == (3, 2, round(2 / 3, 4))
    assert a["overdue"] == 1
    assert (a["satisfied"], a["satisfied_share"]) == (1, round(1 / 3, 4))
    assert a["left_without_consideration"] == 3
    assert a["left_by_ground"] == [{"ground": "repeated", "count": 2},
                                   {"ground": "anonymous", "count": 1}]
    assert a["withdrawn"] == 1
    assert (a["ratings"], a["average_rating"]) == (2, 3.75)
    assert (a["repeated"], a["repeated_counted"], a["repeated_share"]) == (0, False, None)


def test_the_period_is_inclusive_and_limits_every_figure(api):
    a = _report(api, **{"from": "2025-04-02", "to": "2025-04-04"}).json()["appeals"]
    assert (a["received"], a["answered"], a["left_without_consideration"]) == (3, 0, 3)
    assert a["on_time_share"] is None and a["satisfied_share"] is None  # nothing answered
    assert a["ratings"] == 0 and a["average_rating"] is None


def test_the_procedures_figures(api):
    p = _report(api, **{"from": "2025-06-01", "to": "2025-06-30"}).json()["procedures"]
    assert p["received"] == 4
    assert p["by_procedure"] == [{"number": NUMBER, "count": 4}]
    assert (p["decided"], p["decided_on_time"], p["on_time_share"]) == (2, 2, 1.0)
    assert p["refused"] == 1
    assert len(p["refusals_by_ground"]) == 1 and p["refusals_by_ground"][0]["count"] == 1
    assert (p["withdrawn"], p["not_accepted"], p["overdue"]) == (1, 0, 0)


def test_the_report_as_csv(api):
    r = _report(api, format="csv", **{"from": "2025-04-01", "to": "2025-06-30"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Администрация Советского района г. Минска", "2025-04-01 — 2025-06-30"]
    assert rows[1] == ["раздел", "показатель", "позиция", "значение"]
    table = {(row[0], row[1], row[2]): row[3] for row in rows[2:]}
    assert table[("Обращения", "Поступило обращений", "")] == "9"
    assert table[("Обращения", "Поступило по способу подачи", "written")] == "5"
    assert table[("Обращения", "Рассмотрено в срок, %", "")] == "66.7"
    assert table[("Обращения", "Оставлено без рассмотрения по основанию", "repeated")] == "2"
    assert table[("Обращения", "Повторных, %", "")] == ""
    assert table[("Административные процедуры", "Поступило заявлений", "")] == "4"


def test_the_report_as_xlsx(api):
    r = _report(api, format="xlsx", **{"from": "2025-04-01", "to": "2025-06-30"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["Обращения", "Административные процедуры"]
    rows = list(book["Обращения"].iter_rows(values_only=True))
    assert rows[1] == ("показатель", "позиция", "значение")
    values = {(row[0], row[1]): row[2] for row in rows[2:]}
    assert values[("Поступило обращений", None)] == 9
    assert values[("Средняя оценка (1–5)", None)] == 3.75


@pytest.mark.parametrize(("user", "status"), [("supervisor", 200), ("auditor", 200),
                                              ("clerk", 403), ("clerk_b", 403), ("ivan", 403),
                                              ("analyst", 403), (None, 401)])
def test_who_reads_the_report(api, user, status):
    assert _report(api, user).status_code == status


def test_a_supervisor_reads_no_other_authority(api):
    r = api.get("/api/reports", "supervisor", params={"authority": "minsk-frunzensky"})
    assert r.status_code == 403
    assert r.json()["field"] == "authority"


@pytest.mark.parametrize(("query", "field"), [
    ({"authority": "nowhere"}, "authority"),
    ({"authority": A, "from": "2025-05-01", "to": "2025-04-01"}, "to"),
    ({"authority": A, "format": "pdf"}, "query.format"),
    ({"authority": A, "to": "2025-13-01"}, "query.to"),
])
def test_bad_queries_are_refused_naming_the_field(api, query, field):
    r = api.get("/api/reports", "auditor", params=query)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field

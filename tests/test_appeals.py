"""Appeals on the case engine: registration numbers, the commands of Law No. 300-З, their
notices in the command's transaction, and the audit trail that recomputes all of it.

Real SQLite files and the shipped definitions (procedures/appeal.yaml, remarks-book.yaml); the
dates of the terms are in tests/test_appeals_terms.py.
"""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from engine.errors import InvalidInput, NotAllowed
from engine.store.tables import cases, notices, outbox, reg_counters
from tests.casework import Engine

APPEAL = {"kind": "complaint", "topic": "housing", "question": "Не вывозят мусор во дворе."}
NAMES = {"org-1": "Администрация 1", "org-2": "Администрация 2"}
AT = datetime(2025, 6, 18, 6, 0, tzinfo=UTC)  # 09:00 in Minsk, Wednesday 18.06.2025


@pytest.fixture
def eng(tmp_path) -> Engine:
    engine = Engine(tmp_path / "okno.db", at=AT)
    engine.cases.authorities = lambda: NAMES
    return engine


def register(eng: Engine, authority: str = "org-1", **data) -> str:
    return eng.start("appeal", channel="written", authority=authority, data={**APPEAL, **data})


def stored_notices(eng: Engine, case_id: str) -> list[dict]:
    with eng.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(notices).where(notices.c.case_id == case_id).order_by(notices.c.created_at))]


def outbox_rows(eng: Engine) -> list[dict]:
    with eng.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(outbox))]


def finish_review(eng: Engine, case_id: str) -> None:
    """Complete registration and consideration: the reply step waits."""
    for _ in range(2):
        task = eng.open_tasks(case_id)[0]
        assert task["kind"] in ("intake", "review")
        eng.cases.complete_task(case_id, task["id"], {}, actor="clerk-1")
    assert [t["kind"] for t in eng.open_tasks(case_id)] == ["decision"]


# ------------------------------------------------------------------------------ registration

def test_every_case_gets_a_registration_number_per_authority_and_year(eng):
    first, second = register(eng), register(eng)
    procedure = eng.start("2.1")  # an administrative procedure is numbered too
    other = register(eng, authority="org-2")
    numbers = [eng.case(c)["reg_number"] for c in (first, second, procedure, other)]
    assert numbers == ["org-1-2025-000001", "org-1-2025-000002", "org-1-2025-000003",
                       "org-2-2025-000001"]
    eng.clock.at = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a new year: the sequence starts again
    assert eng.case(register(eng))["reg_number"] == "org-1-2026-000001"
    with eng.db.connect() as conn:
        counters = sorted(tuple(r) for r in conn.execute(select(reg_counters)))
    assert counters == [("org-1", 2025, 3), ("org-1", 2026, 1), ("org-2", 2025, 1)]
    assert eng.verify() == (5, [])  # the number is in each start event's effects


def test_registration_numbers_do_not_repeat_under_concurrent_starts(tmp_path):
    """Four threads, each its own engine on one database file, register 10 appeals each: 40
    distinct numbers 1..40 (the counter is updated in each start's own transaction)."""
    path = tmp_path / "okno.db"
    Engine(path, at=AT)  # the schema and the catalog
    errors: list[BaseException] = []

    def work() -> None:
        try:
            engine = Engine(path, at=AT)
            for _ in range(10):
                register(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Engine(path, at=AT).db.connect() as conn:
        numbers = sorted(conn.execute(select(cases.c.reg_number)).scalars())
    assert numbers == [f"org-1-2025-{n:06d}" for n in range(1, 41)]


def test_an_appeal_is_registered_with_its_kind_topic_and_text(eng):
    case = eng.case(register(eng, email="ivanov@example.by", address="г. Минск, ул. Примерная, 1"))
    assert {k: case[k] for k in ("type", "kind", "topic", "question", "email", "address",
                                 "anonymous", "status", "start_date", "due_date")} == {
        "type": "appeal", "kind": "complaint", "topic": "housing", "question": APPEAL["question"],
        "email": "ivanov@example.by", "address": "г. Минск, ул. Примерная, 1", "anonymous": False,
        "status": "open", "start_date": date(2025, 6, 18), "due_date": date(2025, 7, 7)}
    assert [t["step"] for t in eng.open_tasks(case["id"])] == ["registration"]


@pytest.mark.parametrize(("data", "field"), [
    ({**APPEAL, "kind": "petition"}, "data.kind"),
    ({**APPEAL, "topic": "weather"}, "data.topic"),
    ({"kind": "complaint", "topic": "housing"}, "data.question"),
    ({**APPEAL, "question": "x" * 10_001}, "data.question"),
    ({**APPEAL, "question": "bell\x07"}, "data.question"),
    ({**APPEAL, "email": "not an address"}, "data.email"),
    ({**APPEAL, "anonymous": "yes"}, "data.anonymous"),
    ({**APPEAL, "reports_crime": True}, "data.reports_crime"),  # only an anonymous one
    ({**APPEAL, "anonymous": True, "email": "a@b.by"}, "data.email"),
    ({**APPEAL, "colour": "red"}, "data.colour"),
    (None, "data"),
])
def test_bad_registration_data_is_refused_naming_the_field_and_nothing_is_written(eng, data, field):
    with pytest.raises(InvalidInput) as caught:
        eng.start("appeal", channel="written", data=data)
    assert caught.value.field == field
    with eng.db.connect() as conn:
        assert conn.execute(select(cases.c.id)).all() == []
        assert conn.execute(select(reg_counters)).all() == []  # no number used up


def test_a_procedure_takes_no_registration_data_and_an_appeal_no_procedure_channel(eng):
    with pytest.raises(InvalidInput) as caught:
        eng.start("2.1", data=APPEAL)
    assert caught.value.field == "data"
    with pytest.raises(InvalidInput) as caught:
        eng.start("appeal", channel="portal", data=APPEAL)
    assert caught.value.field == "channel"


def test_an_anonymous_appeal_is_left_without_consideration_unless_it_reports_a_crime(eng):
    left = eng.case(register(eng, anonymous=True))
    assert {k: left[k] for k in ("applicant", "status", "outcome", "ground", "anonymous")} == {
        "applicant": "аноним", "status": "completed", "outcome": "left_without_consideration",
        "ground": "anonymous", "anonymous": True}
    assert left["reg_number"] == "org-1-2025-000001"  # registered all the same
    assert eng.open_tasks(left["id"]) == []
    [notice] = stored_notices(eng, left["id"])
    assert (notice["kind"], notice["recipient"]) == ("anonymous_left", None)
    assert "org-1-2025-000001" in notice["body"] and "анонимное обращение" in notice["body"]
    crime = eng.case(register(eng, anonymous=True, reports_crime=True))
    assert (crime["status"], crime["outcome"]) == ("open", None)
    assert [t["step"] for t in eng.open_tasks(crime["id"])] == ["registration"]
    assert eng.verify() == (2, [])


# ------------------------------------------------------------------------------ the commands

def test_the_reply_ends_the_appeal_with_its_outcome_and_the_reply_notice(eng):
    case_id = register(eng, email="ivanov@example.by")
    finish_review(eng, case_id)
    eng.cases.reply(case_id, "explained", "Вывоз мусора восстановлен 20.06.2025.", actor="head-1")
    row = eng.case(case_id)
    assert (row["status"], row["outcome"], row["ground"]) == ("completed", "explained", None)
    [notice] = stored_notices(eng, case_id)
    assert (notice["kind"], notice["title"], notice["recipient"]) == (
        "reply", "Ответ на обращение", "ivanov@example.by")
    assert "даны разъяснения" in notice["body"]
    assert "Вывоз мусора восстановлен 20.06.2025." in notice["body"]
    assert "от 18.06.2025 (рег. № org-1-2025-000001)" in notice["body"]
    assert "Администрация 1" in notice["body"] and "{" not in notice["body"]
    assert [(o["notice_id"], o["status"]) for o in outbox_rows(eng)] == [(notice["id"], "pending")]
    assert eng.verify() == (1, [])


@pytest.mark.parametrize(("outcome", "reply", "field"), [
    ("approve", "текст", "outcome"),  # a procedure's outcome is not an appeal's
    ("left_without_consideration", "текст", "outcome"),  # the engine's own outcome
    ("satisfied", "", "reply"),
    ("satisfied", "x" * 20_001, "reply"),
])
def test_a_bad_reply_is_refused_and_the_reply_step_still_waits(eng, outcome, reply, field):
    case_id = register(eng)
    finish_review(eng, case_id)
    with pytest.raises(InvalidInput) as caught:
        eng.cases.reply(case_id, outcome, reply, actor="head-1")
    assert caught.value.field == field
    assert [t["kind"] for t in eng.open_tasks(case_id)] == ["decision"]
    assert stored_notices(eng, case_id) == []


def test_leaving_without_consideration_names_the_ground_in_its_notice(eng):
    case_id = register(eng, email="ivanov@example.by")
    eng.cases.leave(case_id, "other_procedure", actor="clerk-1", note="Обратитесь в службу «одно окно».")
    row = eng.case(case_id)
    assert (row["status"], row["outcome"], row["ground"]) == (
        "completed", "left_without_consideration", "other_procedure")
    assert eng.open_tasks(case_id) == []
    [notice] = stored_notices(eng, case_id)
    assert notice["kind"] == "left_without_consideration"
    assert "вопрос подлежит разрешению в ином порядке" in notice["body"]
    assert "Обратитесь в службу «одно окно»." in notice["body"]
    with pytest.raises(InvalidInput) as caught:
        eng.cases.leave(register(eng), "no_such_ground", actor="clerk-1")
    assert caught.value.field == "ground"
    assert eng.verify() == (2, [])


def test_an_appeal_is_withdrawn_before_the_reply_and_not_after(eng):
    case_id = register(eng)
    eng.cases.withdraw(case_id, actor="clerk-1", reason="вопрос решён")
    row = eng.case(case_id)
    assert (row["status"], row["outcome"]) == ("withdrawn", "withdrawn")
    assert eng.open_tasks(case_id) == []
    answered = register(eng)
    finish_review(eng, answered)
    eng.cases.reply(answered, "satisfied", "Удовлетворено.", actor="head-1")
    with pytest.raises(NotAllowed, match="before it is considered on the merits"):
        eng.cases.withdraw(answered, actor="clerk-1")
    assert eng.case(answered)["outcome"] == "satisfied"


def test_forwarding_moves_the_appeal_and_notifies_the_applicant(eng):
    case_id = register(eng, email="ivanov@example.by")
    task = eng.open_tasks(case_id)[0]
    eng.cases.claim(case_id, task["id"], actor="clerk-1")
    eng.cases.forward(case_id, "org-2", actor="clerk-1", note="Вопрос относится к ЖЭС.")
    row = eng.case(case_id)
    assert (row["authority"], row["forwarded_from"], row["status"], row["outcome"]) == (
        "org-2", "org-1", "open", None)
    assert row["reg_number"] == "org-1-2025-000001"  # the number stays with the appeal
    [moved] = eng.open_tasks(case_id)
    assert (moved["authority"], moved["assignee"]) == ("org-2", None)  # unclaimed at the new one
    [notice] = stored_notices(eng, case_id)
    assert notice["kind"] == "forwarded"
    assert "«Администрация 1»" in notice["body"] and "в «Администрация 2»" in notice["body"]
    assert "Вопрос относится к ЖЭС." in notice["body"]
    assert eng.verify() == (1, [])  # the moved tasks are in the event's effects
    with pytest.raises(InvalidInput) as caught:
        eng.cases.forward(case_id, "org-2", actor="clerk-1")
    assert caught.value.field == "to"  # there already
    with pytest.raises(InvalidInput) as caught:
        eng.cases.forward(case_id, "nowhere", actor="clerk-1")
    assert caught.value.field == "to"


def test_extensions_apply_once_each_and_in_order(eng):
    case_id = register(eng)
    with pytest.raises(NotAllowed, match="needs 'extra_study' first"):
        eng.cases.extend(case_id, "beyond_month", actor="clerk-1")
    eng.cases.extend(case_id, "extra_study", actor="clerk-1")
    with pytest.raises(NotAllowed, match="extended by 'extra_study' already"):
        eng.cases.extend(case_id, "extra_study", actor="clerk-1")
    with pytest.raises(InvalidInput) as caught:
        eng.cases.extend(case_id, "forever", actor="clerk-1")
    assert caught.value.field == "extension"
    assert stored_notices(eng, case_id) == []  # 15 days -> 1 month sends no notice
    eng.cases.extend(case_id, "beyond_month", actor="clerk-1")
    assert [n["kind"] for n in stored_notices(eng, case_id)] == ["more_than_month"]
    assert "не позднее 18.08.2025" in stored_notices(eng, case_id)[0]["body"]
    assert eng.verify() == (1, [])


def test_commands_of_appeals_are_refused_on_a_procedure(eng):
    case_id = eng.start("2.1")
    with pytest.raises(NotAllowed, match="does not provide for forwarding"):
        eng.cases.forward(case_id, "org-2", actor="clerk-1")
    with pytest.raises(NotAllowed, match="no grounds of leaving"):
        eng.cases.leave(case_id, "form_defects", actor="clerk-1")
    with pytest.raises(InvalidInput):
        eng.cases.extend(case_id, "extra_study", actor="clerk-1")
    assert eng.case(case_id)["status"] == "open"


def test_audit_verify_sees_an_edited_reg_number_or_forwarding(eng):
    case_id = register(eng)
    eng.cases.forward(case_id, "org-2", actor="clerk-1")
    with eng.db.begin() as conn:
        conn.execute(text("UPDATE cases SET reg_number = 'org-1-2025-999999', "
                          "forwarded_from = 'org-9' WHERE id = :id"), {"id": case_id})
    checked, breaks = eng.verify()
    assert checked == 1
    found = " ".join(str(b) for b in breaks)
    assert "reg_number" in found and "forwarded_from" in found


# ------------------------------------------------------------------------------ the book

def test_an_entry_in_the_book_of_remarks_is_answered_and_recorded(eng):
    entry = eng.start("remarks-book", channel="written", applicant="Петров П. П.",
                      data={"kind": "suggestion", "topic": "premises",
                            "question": "Поставить в холле скамейки.", "email": "p@example.by"})
    row = eng.case(entry)
    assert (row["type"], row["kind"], row["reg_number"]) == ("remarks", "suggestion",
                                                             "org-1-2025-000001")
    [task] = eng.open_tasks(entry)
    eng.cases.complete_task(entry, task["id"], {}, actor="clerk-1")
    eng.cases.reply(entry, "answered", "Скамейки установлены.", actor="head-1")
    row = eng.case(entry)
    assert (row["status"], row["outcome"]) == ("completed", "answered")
    [notice] = stored_notices(eng, entry)
    assert notice["kind"] == "answer" and "Скамейки установлены." in notice["body"]
    assert eng.verify() == (1, [])

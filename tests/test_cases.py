"""The case engine end to end: every catalog procedure on both paths, commands, conflicts, audit."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.errors import Conflict, Forbidden, InvalidInput, NotAllowed, NotFound
from engine.store.tables import case_documents, events, tasks
from tests.casework import CATALOG, Engine, sample_form

CATALOG_PROCS = load_catalog(CATALOG)


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db")


def _variant(number: str = "6.1.1", **changes) -> dict:
    data = CATALOG_PROCS[number].definition
    data.update(changes)
    return data


def _intake(reason: str) -> dict:
    """Valid intake data for 6.1.1 with the given reason for a duplicate."""
    return {**sample_form(CATALOG_PROCS["6.1.1"].step("intake").fields), "reason": reason}


def _engine_with(tmp_path, data: dict) -> Engine:
    proc = build_procedure(data, f"{data['number']}.yaml")
    return Engine(tmp_path / "variant.db", procedures={proc.number: proc})


@pytest.mark.parametrize("number", sorted(n for n, p in CATALOG_PROCS.items() if p.is_procedure))
@pytest.mark.parametrize("outcome", ["approve", "refuse"])
def test_every_procedure_runs_to_its_end(eng, number, outcome):
    case_id = eng.start(number)
    steps = eng.run_to_end(case_id, outcome)
    case = eng.case(case_id)
    assert case["status"] == "completed"
    assert case["outcome"] == ("approved" if outcome == "approve" else "refused")
    proc = CATALOG_PROCS[number]
    issue_steps = [s.id for s in proc.steps if s.kind == "issue"] or ["issue"]
    assert (issue_steps[0] in steps) == (outcome == "approve")
    # start + one event per completed task + one per document recorded before intake
    assert case["row_version"] == len(steps) + 1 + len(proc.documents)
    checked, breaks = eng.verify(case_id)
    assert checked == 1 and breaks == []


def test_due_date_set_at_start_and_extended_when_documents_requested(eng):
    case_id = eng.start("6.1.1")  # 15 days, 1 month when documents are requested
    assert eng.case(case_id)["due_date"] == date(2025, 7, 7)  # 3 July holiday, 4 July transferred
    eng.cases.record_document(case_id, "archive_record", "requested", actor="clerk-1")
    case = eng.case(case_id)
    assert case["due_date"] == date(2025, 7, 18) and case["documents_requested"]
    assert {t["due_date"] for t in eng.open_tasks(case_id)} == {date(2025, 7, 18)}
    eng.cases.record_document(case_id, "archive_record", "received", actor="clerk-1")
    with eng.db.connect() as conn:
        status = conn.execute(select(case_documents.c.status)).scalar_one()
    assert status == "received"


def test_unlisted_document_refused_under_directive_2(eng):
    case_id = eng.start("6.1.1")
    before = eng.case(case_id)
    with pytest.raises(NotAllowed, match="§2.2") as exc:
        eng.cases.record_document(case_id, "income_statement", "presented", actor="clerk-1")
    assert exc.value.field == "document"
    assert eng.case(case_id) == before  # nothing changed, no audit event


def test_presented_document_cannot_be_requested(eng):
    case_id = eng.start("6.1.1")
    with pytest.raises(NotAllowed, match="presented by the citizen"):
        eng.cases.record_document(case_id, "passport", "requested", actor="clerk-1")


def test_conditional_step_follows_the_form(eng):
    lost = eng.start("6.1.1")
    eng.present_documents(lost)
    intake = eng.open_tasks(lost)[0]
    eng.cases.complete_task(lost, intake["id"], _intake("lost"), actor="clerk-1")
    assert [t["step"] for t in eng.open_tasks(lost)] == ["request_archive"]
    damaged = eng.start("6.1.1")
    eng.present_documents(damaged)
    intake = eng.open_tasks(damaged)[0]
    eng.cases.complete_task(damaged, intake["id"], _intake("damaged"), actor="clerk-1")
    assert [t["step"] for t in eng.open_tasks(damaged)] == ["review"]


def test_form_data_is_validated_and_bad_input_changes_nothing(eng):
    case_id = eng.start("6.1.1")
    task = eng.open_tasks(case_id)[0]
    before = eng.case(case_id)
    for data, fld in (({}, "data.reason"), ({"reason": "stolen"}, "data.reason"),
                      (_intake("lost") | {"extra": 1}, "data.extra")):
        with pytest.raises(InvalidInput) as exc:
            eng.cases.complete_task(case_id, task["id"], data, actor="clerk-1")
        assert exc.value.field == fld
    assert eng.case(case_id) == before
    assert eng.open_tasks(case_id)[0]["id"] == task["id"]


def test_refusal_needs_a_listed_legal_ground(eng):
    case_id = eng.start("1.3.1")
    eng.present_documents(case_id)
    while (task := eng.open_tasks(case_id)[0])["kind"] != "decision":
        proc = CATALOG_PROCS["1.3.1"]
        eng.cases.complete_task(case_id, task["id"], sample_form(proc.step(task["step"]).fields),
                                actor="clerk-1")
    with pytest.raises(InvalidInput, match="legal ground"):
        eng.cases.decide(case_id, "refuse", actor="clerk-1")
    with pytest.raises(InvalidInput, match="ground must be one of"):
        eng.cases.decide(case_id, "refuse", ground="dislike", actor="clerk-1")
    eng.cases.decide(case_id, "refuse", ground="false_documents", actor="clerk-1")
    case = eng.case(case_id)
    assert (case["status"], case["outcome"], case["ground"]) == ("completed", "refused", "false_documents")


def test_withdraw_at_any_time_before_the_end(eng):
    case_id = eng.start("6.1.1")
    eng.present_documents(case_id)
    intake = eng.open_tasks(case_id)[0]
    eng.cases.complete_task(case_id, intake["id"], _intake("lost"), actor="clerk-1")
    eng.cases.withdraw(case_id, actor="applicant-1", reason="передумал")
    assert eng.case(case_id)["status"] == "withdrawn"
    assert eng.open_tasks(case_id) == []
    with eng.db.connect() as conn:
        states = conn.execute(select(tasks.c.state).where(tasks.c.case_id == case_id)).scalars().all()
    assert sorted(states) == ["cancelled", "done"]
    with pytest.raises(NotAllowed):
        eng.cases.withdraw(case_id, actor="applicant-1")
    eng.cases.close(case_id, actor="clerk-1")
    assert eng.case(case_id)["status"] == "closed"
    assert eng.verify()[1] == []


def test_refuse_acceptance_only_before_intake(eng):
    case_id = eng.start("6.1.1")
    with pytest.raises(InvalidInput, match="ground must be one of"):
        eng.cases.refuse_acceptance(case_id, "no_reason", actor="clerk-1")
    eng.cases.refuse_acceptance(case_id, "documents_missing", actor="clerk-1")
    case = eng.case(case_id)
    assert (case["status"], case["ground"]) == ("not_accepted", "documents_missing")
    accepted = eng.start("6.1.1")
    eng.present_documents(accepted)
    eng.cases.complete_task(accepted, eng.open_tasks(accepted)[0]["id"], _intake("lost"),
                            actor="clerk-1")
    with pytest.raises(NotAllowed, match="accepted already"):
        eng.cases.refuse_acceptance(accepted, "documents_missing", actor="clerk-1")


def test_suspension_only_where_the_definition_allows(eng, tmp_path):
    case_id = eng.start("6.1.1")
    with pytest.raises(NotAllowed, match="does not allow suspension"):
        eng.cases.suspend(case_id, "expertise", actor="clerk-1")
    data = _variant(suspension={"allowed": True, "grounds": [
        {"id": "expertise", "title": "проведение экспертизы"}]})
    other = _engine_with(tmp_path, data)
    case_id = other.start("6.1.1")
    assert other.case(case_id)["due_date"] == date(2025, 7, 7)
    with pytest.raises(InvalidInput):
        other.cases.suspend(case_id, "whim", actor="clerk-1")
    other.cases.suspend(case_id, "expertise", actor="clerk-1")
    task = other.open_tasks(case_id)[0]
    with pytest.raises(NotAllowed, match="suspended"):
        other.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-1")
    other.clock.advance(days=10)  # 18 June -> 28 June: ten days paused
    other.cases.resume(case_id, actor="clerk-1")
    case = other.case(case_id)
    assert case["status"] == "open" and case["due_date"] == date(2025, 7, 17)
    other.present_documents(case_id)
    other.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-1")


def test_claimed_task_belongs_to_its_claimant(eng):
    case_id = eng.start("6.1.1")
    eng.present_documents(case_id)
    task = eng.open_tasks(case_id)[0]
    eng.cases.claim(case_id, task["id"], actor="clerk-1")
    assert eng.open_tasks(case_id)[0]["assignee"] == "clerk-1"
    with pytest.raises(Forbidden):
        eng.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-2")
    with pytest.raises(Forbidden):
        eng.cases.claim(case_id, task["id"], actor="clerk-2")
    eng.cases.unclaim(case_id, task["id"], actor="clerk-1")
    eng.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-2")


def test_unknown_case_and_task(eng):
    with pytest.raises(NotFound):
        eng.cases.withdraw("no-such-case", actor="x")
    case_id = eng.start("6.1.1")
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            eng.cases.complete_task(case_id, bad, {}, actor="clerk-1")


def test_start_validates_its_input(eng):
    with pytest.raises(NotFound):
        eng.start("99.99")
    with pytest.raises(InvalidInput) as exc:
        eng.start("6.1.1", channel="portal")
    assert exc.value.field == "channel"
    with pytest.raises(InvalidInput) as exc:
        eng.start("6.1.1", category="martian")
    assert exc.value.field == "category"
    with pytest.raises(InvalidInput) as exc:
        eng.start("6.1.1", applicant="")
    assert exc.value.field == "applicant"


def test_concurrent_completions_one_wins(eng):
    case_id = eng.start("6.1.1")
    recorded = eng.present_documents(case_id)
    task = eng.open_tasks(case_id)[0]
    barrier = threading.Barrier(6)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            eng.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-1")
            results.append("ok")
        except Conflict:
            results.append("conflict")
        except NotAllowed:  # came after the winner committed: the task is no longer waiting
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    assert eng.case(case_id)["row_version"] == 2 + recorded  # start, documents, the winner
    assert [t["step"] for t in eng.open_tasks(case_id)] == ["request_archive"]
    assert eng.verify()[1] == []


def test_expected_version_turns_a_stale_command_into_a_conflict(eng):
    case_id = eng.start("6.1.1")
    recorded = eng.present_documents(case_id)
    task = eng.open_tasks(case_id)[0]
    with pytest.raises(Conflict):
        eng.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-1",
                                expected_version=7 + recorded)
    eng.cases.complete_task(case_id, task["id"], _intake("lost"), actor="clerk-1",
                            expected_version=1 + recorded)


def test_case_stays_on_its_version_new_cases_take_the_newest(eng):
    old_case = eng.start("6.1.1")
    data = eng.catalog["6.1.1"].definition
    data["steps"] = [s for s in data["steps"] if s["id"] != "review"]
    newer = build_procedure(data, "6.1.1.yaml")
    assert newer.version != eng.catalog["6.1.1"].version
    eng.versions.publish([newer])
    new_case = eng.start("6.1.1")
    assert eng.case(old_case)["version"] == eng.catalog["6.1.1"].version
    assert eng.case(new_case)["version"] == newer.version
    assert "review" in eng.run_to_end(old_case)
    assert "review" not in eng.run_to_end(new_case)


def test_workflow_survives_a_restart(eng, tmp_path):
    case_id = eng.start("6.1.1")
    eng.present_documents(case_id)
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], _intake("lost"),
                            actor="clerk-1")
    fresh = Engine(tmp_path / "okno.db")  # a new process: empty caches, same file
    assert fresh.run_to_end(case_id) == ["request_archive", "review", "decision", "issue"]


def test_overdue_cases_are_marked_by_the_worker(eng):
    from engine.runtime.scheduler import sweep

    case_id = eng.start("2.1")
    due = eng.case(case_id)["due_date"]
    assert sweep(eng.cases) == (0, 0)
    eng.clock.at = datetime.combine(due, datetime.min.time(), UTC) + timedelta(days=1, hours=5)
    assert sweep(eng.cases) == (0, 1)
    assert eng.case(case_id)["overdue"]
    assert sweep(eng.cases) == (0, 0)  # marked once
    assert eng.verify()[1] == []


def test_audit_verify_finds_edited_reordered_and_deleted_events(eng):
    ids = [eng.start("6.1.1") for _ in range(3)]
    for case_id in ids:
        eng.run_to_end(case_id)
    assert eng.verify() == (3, [])
    edited, reordered, deleted = ids
    with eng.db.begin() as conn:
        conn.execute(update(events).where(events.c.case_id == edited, events.c.seq == 2)
                     .values(data='{"task": "forged"}'))
        conn.execute(update(events).where(events.c.case_id == reordered, events.c.seq == 2).values(seq=99))
        conn.execute(update(events).where(events.c.case_id == reordered, events.c.seq == 3).values(seq=2))
        conn.execute(update(events).where(events.c.case_id == reordered, events.c.seq == 99).values(seq=3))
        conn.execute(events.delete().where(events.c.case_id == deleted, events.c.seq == 6))
    checked, breaks = eng.verify()
    assert checked == 3
    assert {b.case_id for b in breaks} == set(ids)
    assert any("edited" in str(b) for b in breaks if b.case_id == edited)
    assert any(b.case_id == deleted and "expected" in str(b) for b in breaks)


def test_hostile_condition_is_refused_at_run_time_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    data = _variant()
    data["steps"][1]["condition"] = f"__import__('os').system('touch {marker}')"
    proc = build_procedure(data, "6.1.1.yaml")  # skips validation, as a tampered store would
    eng = Engine(tmp_path / "x.db", procedures={proc.number: proc})
    with pytest.raises(NotAllowed, match="__import__"):
        eng.start("6.1.1")
    assert not marker.exists()
    with eng.db.connect() as conn:
        assert conn.execute(select(events)).all() == []


def test_condition_on_a_field_left_empty_reads_none(tmp_path):
    data = _variant()
    data["steps"][0]["fields"].append({"id": "note", "title": "Примечание", "type": "string"})
    data["steps"][2]["condition"] = "note == None or reason == 'lost'"
    eng = _engine_with(tmp_path, data)
    case_id = eng.start("6.1.1")
    eng.present_documents(case_id)
    eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"], _intake("damaged"),
                            actor="clerk-1")
    assert [t["step"] for t in eng.open_tasks(case_id)] == ["review"]


@pytest.mark.parametrize(("field", "bad"), [("count", 2**70), ("note", "a\x00b"), ("note", "\ud800")])
def test_values_that_cannot_be_stored_are_refused(tmp_path, field, bad):
    data = _variant()
    data["steps"][0]["fields"] += [{"id": "note", "title": "Примечание", "type": "text"},
                                   {"id": "count", "title": "Количество", "type": "integer"}]
    eng = _engine_with(tmp_path, data)
    case_id = eng.start("6.1.1")
    before = eng.case(case_id)
    with pytest.raises(InvalidInput) as exc:
        eng.cases.complete_task(case_id, eng.open_tasks(case_id)[0]["id"],
                                {**_intake("lost"), field: bad}, actor="clerk-1")
    assert exc.value.field == f"data.{field}"
    assert eng.case(case_id) == before


def test_decide_and_issue_respect_a_claim(eng):
    case_id = eng.start("1.3.1")
    eng.present_documents(case_id)
    while (task := eng.open_tasks(case_id)[0])["kind"] != "decision":
        eng.cases.complete_task(case_id, task["id"], sample_form(CATALOG_PROCS["1.3.1"].step(task["step"]).fields),
                                actor="clerk-1")
    eng.cases.claim(case_id, task["id"], actor="head-1")
    with pytest.raises(Forbidden):
        eng.cases.decide(case_id, "approve", actor="head-2")
    with pytest.raises(Forbidden):
        eng.cases.decide(case_id, "approve", actor="head-2", task_id=task["id"])
    eng.cases.decide(case_id, "approve", actor="head-1")
    issue = eng.open_tasks(case_id)[0]
    with pytest.raises(NotAllowed, match="not a decision step"):
        eng.cases.decide(case_id, "approve", actor="head-1", task_id=issue["id"])
    eng.cases.claim(case_id, issue["id"], actor="clerk-1")
    with pytest.raises(Forbidden):
        eng.cases.issue_result(case_id, actor="clerk-2")
    eng.cases.issue_result(case_id, actor="clerk-1", task_id=issue["id"])
    assert eng.case(case_id)["status"] == "completed"


def test_a_version_published_by_another_process_is_current_at_once(eng):
    from engine.store.versions import Versions

    other_process = Versions(eng.db, eng.clock)
    data = eng.catalog["6.1.1"].definition
    data["steps"] = [s for s in data["steps"] if s["id"] != "review"]
    newer = build_procedure(data, "6.1.1.yaml")
    assert eng.versions.current("6.1.1").version == eng.catalog["6.1.1"].version
    other_process.publish([newer])
    assert eng.versions.current("6.1.1").version == newer.version
    assert eng.case(eng.start("6.1.1"))["version"] == newer.version


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused_in_drawn_bpmn_tasks(eng, bad):
    case_id = eng.start("2.2")
    task = eng.open_tasks(case_id)[0]
    with pytest.raises(InvalidInput) as exc:
        eng.cases.complete_task(case_id, task["id"], {"amount": bad}, actor="clerk-1")
    assert exc.value.field == "data.amount"


def test_a_clock_in_another_zone_stores_utc_and_the_chain_holds(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    eng = Engine(tmp_path / "zone.db", at=datetime(2025, 6, 18, 10, 0, tzinfo=ZoneInfo("Europe/Minsk")))
    case_id = eng.start("2.1")
    eng.run_to_end(case_id)
    assert eng.case(case_id)["started_at"].replace(tzinfo=None) == datetime(2025, 6, 18, 7, 0)
    assert eng.verify() == (1, [])


def test_audit_chains_cannot_be_swapped_between_cases(eng):
    from engine.store.tables import cases as cases_table

    first, second = eng.start("2.1"), eng.start("2.1")
    a, b = eng.case(first), eng.case(second)
    with eng.db.begin() as conn:  # swap the events and the chain heads of the two cases
        conn.execute(update(events).where(events.c.case_id == first).values(case_id="swap"))
        conn.execute(update(events).where(events.c.case_id == second).values(case_id=first))
        conn.execute(update(events).where(events.c.case_id == "swap").values(case_id=second))
        conn.execute(update(cases_table).where(cases_table.c.id == first).values(last_hash=b["last_hash"]))
        conn.execute(update(cases_table).where(cases_table.c.id == second).values(last_hash=a["last_hash"]))
    checked, breaks = eng.verify()
    assert checked == 2 and {br.case_id for br in breaks} == {first, second}


def test_requesting_documents_after_a_suspension_keeps_the_pause(tmp_path):
    data = _variant(suspension={"allowed": True, "grounds": [{"id": "expertise", "title": "экспертиза"}]})
    eng = _engine_with(tmp_path, data)
    case_id = eng.start("6.1.1")  # 18 June 2025: due 7 July (15 days)
    eng.cases.suspend(case_id, "expertise", actor="clerk-1")
    eng.clock.advance(days=20)
    eng.cases.resume(case_id, actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 7, 28)  # 7 July + 20 days paused
    eng.cases.record_document(case_id, "archive_record", "requested", actor="clerk-1")
    # 1 month from 18 June is 18 July; the 20 paused days still count: 7 August.
    assert eng.case(case_id)["due_date"] == date(2025, 8, 7)


def test_a_term_counted_from_the_documents_received_starts_when_the_last_arrives(tmp_path):
    data = _variant()
    data["requested_documents"].append({"id": "school_register", "title": "сведения из книги учёта",
                                        "source": "учреждение образования"})
    data["term"]["counted_from"] = "documents_received"
    eng = _engine_with(tmp_path, data)
    case_id = eng.start("6.1.1")
    for doc in ("archive_record", "school_register"):
        eng.cases.record_document(case_id, doc, "requested", actor="clerk-1")
    eng.clock.advance(days=10)
    eng.cases.record_document(case_id, "archive_record", "received", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 7, 18)  # one still missing: unchanged
    eng.clock.advance(days=5)  # 3 July 2025
    eng.cases.record_document(case_id, "school_register", "received", actor="clerk-1")
    assert eng.case(case_id)["due_date"] == date(2025, 8, 4)  # 1 month from 3 July: 3 Aug is a Sunday



def test_claiming_twice_or_unclaiming_a_free_task_writes_nothing(eng):
    case_id = eng.start("6.1.1")
    task = eng.open_tasks(case_id)[0]
    eng.cases.unclaim(case_id, task["id"], actor="clerk-1")
    assert eng.case(case_id)["row_version"] == 1
    eng.cases.claim(case_id, task["id"], actor="clerk-1")
    eng.cases.claim(case_id, task["id"], actor="clerk-1")
    assert eng.case(case_id)["row_version"] == 2
    assert eng.open_tasks(case_id)[0]["assignee"] == "clerk-1"

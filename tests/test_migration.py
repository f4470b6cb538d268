"""Moving running cases to a new version of their procedure (engine/runtime/migration.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli import app
from engine.definition.validation import load_definition
from engine.errors import InvalidInput
from engine.store.tables import cases, events, tasks
from tests.casework import AUDIT_KEY, CATALOG, Engine
from tests.db_support import url as db_url
from tests.pages_support import sign_in_client
from tests.test_api_support import Api

# Version 2 of 2.1: the term is shorter (5 days → 1), the intake step has a new title, the review
# step a new required field, and the intake's `copies` at most 5 (it was 10).
CHANGES = (
    ('max: "5 days"', 'max: "1 day"'),
    ('title: "Прием заявления (устного или письменного)"', 'title: "Прием заявления"'),
    ('    kind: review\n    title: "Изготовление и заверение выписки (копии)"\n    role: clerk\n',
     '    kind: review\n    title: "Изготовление и заверение выписки (копии)"\n    role: clerk\n'
     '    fields:\n      - id: checked\n        title: "Сверено с книжкой"\n        type: boolean\n'
     '        required: true\n'),
    ("        max: 10\n", "        max: 5\n"),
)


def version_2(tmp_path: Path):
    text = (CATALOG / "2.1.yaml").read_text(encoding="utf-8")
    for old, new in CHANGES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "2.1.yaml"
    path.write_text(text, encoding="utf-8")
    return load_definition(text.encode(), str(path))


def _open(eng: Engine, case_id: str) -> dict:
    (task,) = eng.open_tasks(case_id)
    return task


def _stored(eng: Engine, case_id: str) -> tuple:
    with eng.db.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.id == case_id)).one()
        task_rows = conn.execute(select(tasks).where(tasks.c.case_id == case_id)
                                 .order_by(tasks.c.id)).all()
        n_events = len(conn.execute(select(events.c.seq).where(events.c.case_id == case_id)).all())
    return tuple(row), [tuple(t) for t in task_rows], n_events


@pytest.fixture
def world(tmp_path):
    """Four cases of 2.1 on version 1: at intake, at review, at review with 8 copies, ended;
    then version 2 published."""
    eng = Engine(tmp_path / "okno.db")
    v1 = eng.versions.current("2.1").version
    at_intake = eng.start("2.1")
    at_review = eng.start("2.1")
    eng.cases.complete_task(at_review, _open(eng, at_review)["id"],
                            {"copy_kind": "extract", "copies": 2}, actor="clerk-1")
    too_many = eng.start("2.1")
    eng.cases.complete_task(too_many, _open(eng, too_many)["id"],
                            {"copy_kind": "extract", "copies": 8}, actor="clerk-1")
    ended = eng.start("2.1")
    eng.cases.withdraw(ended, actor="clerk-1")
    v2 = version_2(tmp_path)
    assert eng.versions.publish([v2]) == [v2.version]
    return eng, v1, v2, {"intake": at_intake, "review": at_review, "too_many": too_many, "ended": ended}


def test_dry_run_lists_movable_and_blocked_cases_with_reasons(world):
    eng, v1, v2, ids = world
    before = {k: _stored(eng, c) for k, c in ids.items()}
    verdicts = {v.case_id: v for v in eng.cases.migrate_procedure("2.1", "current", actor="analyst",
                                                                  dry_run=True)}
    assert set(verdicts) == {ids["intake"], ids["review"], ids["too_many"]}  # the ended one is not running
    assert verdicts[ids["intake"]].movable and not verdicts[ids["intake"]].moved
    review = verdicts[ids["review"]]
    assert [r.code for r in review.reasons] == ["field_required_added"]
    assert "Сверено с книжкой" in review.reasons[0].text
    codes = [r.code for r in verdicts[ids["too_many"]].reasons]
    assert "data_invalid" in codes and "field_required_added" in codes
    assert all(v.from_version == v1 and v.to_version == v2.version for v in verdicts.values())
    assert {k: _stored(eng, c) for k, c in ids.items()} == before  # a dry run writes nothing


def test_apply_moves_only_movable_cases_and_audit_verifies(world):
    eng, v1, v2, ids = world
    before = {k: _stored(eng, c) for k, c in ids.items()}
    old_due = eng.case(ids["intake"])["due_date"]
    verdicts = {v.case_id: v for v in eng.cases.migrate_procedure("2.1", v2.version[:8],
                                                                  actor="analyst")}
    assert verdicts[ids["intake"]].moved
    assert not verdicts[ids["review"]].moved and not verdicts[ids["too_many"]].moved
    moved = eng.case(ids["intake"])
    assert moved["version"] == v2.version
    assert moved["due_date"] < old_due  # the term got shorter: so did the due date
    task = _open(eng, ids["intake"])
    assert task["title"] == "Прием заявления" and task["due_date"] == moved["due_date"]
    with eng.db.connect() as conn:
        last = conn.execute(select(events).where(events.c.case_id == ids["intake"])
                            .order_by(events.c.seq.desc())).first()
    assert last.action == "migrate"
    for key in ("review", "too_many", "ended"):  # untouched, to the byte
        assert _stored(eng, ids[key]) == before[key]
    checked, breaks = eng.verify()
    assert checked == 4 and breaks == []
    # The moved case runs to its end on the new version, and its chain still verifies.
    done = eng.run_to_end(ids["intake"])
    assert done == ["intake", "review", "decision", "issue"]
    assert eng.case(ids["intake"])["status"] == "completed"
    assert eng.verify(ids["intake"]) == (1, [])
    # Running it again finds nothing more to move: the blocked ones stay blocked.
    again = eng.cases.migrate_procedure("2.1", "current", actor="analyst")
    assert {v.case_id for v in again} == {ids["review"], ids["too_many"]}
    assert not any(v.moved for v in again)


def test_a_longer_term_blocks_and_an_ended_case_cannot_move(world, tmp_path):
    eng, v1, v2, ids = world
    verdict = eng.cases.migrate(ids["ended"], v2.version, actor="analyst")
    assert [r.code for r in verdict.reasons] == ["not_running"] and not verdict.moved
    moved = eng.cases.migrate(ids["intake"], v2.version, actor="analyst")
    assert moved.moved
    back = eng.cases.migrate(ids["intake"], v1, actor="analyst")  # 1 day back to 5: longer
    assert [r.code for r in back.reasons] == ["term_longer"] and not back.moved
    assert eng.case(ids["intake"])["version"] == v2.version


def test_an_open_step_the_new_version_removed_blocks(world, tmp_path):
    eng, v1, v2, ids = world
    text = (CATALOG / "2.1.yaml").read_text(encoding="utf-8")
    review = ('  - id: review\n    kind: review\n    title: "Изготовление и заверение выписки '
              '(копии)"\n    role: clerk\n')
    assert text.count(review) == 1
    v3 = load_definition(text.replace(review, "").encode(), str(tmp_path / "2.1.yaml"))
    eng.versions.publish([v3])
    blocked = eng.cases.migrate(ids["review"], v3.version, actor="analyst")
    assert [r.code for r in blocked.reasons] == ["task_removed"] and "(review)" in blocked.reasons[0].text
    assert "review" in blocked.diff["removed"]
    moved = eng.cases.migrate(ids["intake"], v3.version, actor="analyst")
    assert moved.moved, moved.reasons
    assert eng.run_to_end(ids["intake"]) == ["intake", "decision", "issue"]
    assert eng.verify() == (4, [])


def test_a_moved_case_keeps_its_requested_documents_and_due_date(tmp_path):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("2.6")
    eng.cases.record_document(case_id, "household_certificate", "requested", actor="clerk-1")
    due = eng.case(case_id)["due_date"]
    text = (CATALOG / "2.6.yaml").read_text(encoding="utf-8")
    old = 'title: "Прием заявления и документов"'
    assert text.count(old) == 1
    v2 = load_definition(text.replace(old, 'title: "Прием документов"').encode(),
                         str(tmp_path / "2.6.yaml"))
    eng.versions.publish([v2])
    assert eng.cases.migrate(case_id, v2.version, actor="analyst").moved
    assert eng.case(case_id)["due_date"] == due  # the same term: the due date is kept
    assert _open(eng, case_id)["title"] == "Прием документов"
    eng.cases.live = type(eng.cases.live)()  # restore from the stored state, not the cache
    with eng.cases.unit_of_work("auditor") as uow:
        case = uow.cases.get(case_id)
        (task,) = case.ready_before.values()
        assert task.data["documents_requested"] is True
        assert case.procedure.version == v2.version
    assert eng.verify(case_id) == (1, [])


def test_version_names_are_checked(world):
    eng, v1, v2, ids = world
    for bad in ("", "abc", "zzzzzzzz", 5):
        with pytest.raises(InvalidInput) as exc:
            eng.cases.resolve_version("2.1", bad)
        assert exc.value.field == "to"
    assert eng.cases.resolve_version("2.1", v1[:10]) == v1
    assert eng.cases.resolve_version("2.1", "current") == v2.version


# ------------------------------------------------------------------------------- the faces

def test_cli_lists_moves_and_exits_1_when_some_are_blocked(world, tmp_path, monkeypatch):
    eng, v1, v2, ids = world
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("OKNO_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    url = db_url(tmp_path / "okno.db")
    runner = CliRunner()
    base = ["cases", "migrate", "--procedure", "2.1", "--database", url]
    dry = runner.invoke(app, [*base, "--to", "current", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.count(": movable") == 1 and dry.output.count(": blocked") == 2
    assert "field_required_added: в открытом шаге" in dry.output
    assert eng.case(ids["intake"])["version"] == v1
    applied = runner.invoke(app, [*base, "--to", v2.version[:10]])
    assert applied.exit_code == 1, applied.output
    assert "3 running case(s) on other versions: 1 moved, 2 blocked" in applied.output
    assert eng.case(ids["intake"])["version"] == v2.version
    verified = runner.invoke(app, ["audit", "verify", "--database", url])
    assert verified.exit_code == 0 and "4 case(s) checked, 0 problem(s)" in verified.output
    bad = runner.invoke(app, [*base, "--to", "nosuch"])
    assert bad.exit_code == 2 and "error:" in bad.output


def _api_world(tmp_path):
    api = Api(tmp_path)
    v1 = api.services.versions.current("2.1").version
    at_intake = api.start("2.1")["id"]
    at_review = api.start("2.1")["id"]
    api.advance(at_review, "2.1", until_kind="review")
    v2 = version_2(tmp_path)
    api.services.versions.publish([v2])
    return api, v1, v2, at_intake, at_review


def test_api_migrates_and_the_case_shows_its_version_and_migrations(tmp_path):
    api, v1, v2, at_intake, at_review = _api_world(tmp_path)
    path = "/api/procedures/2.1/migrations"
    assert api.post(path, "clerk", {"to": "current"}).status_code == 403
    r = api.post(path, "analyst", {"to": "current", "dry_run": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["to"] == v2.version and body["dry_run"] is True
    by_id = {c["case_id"]: c for c in body["cases"]}
    assert by_id[at_intake]["movable"] and not by_id[at_intake]["moved"]
    assert [x["code"] for x in by_id[at_review]["reasons"]] == ["field_required_added"]
    r = api.post(path, "analyst", {"to": v2.version[:12]})
    assert {c["case_id"]: c["moved"] for c in r.json()["cases"]} == {at_intake: True, at_review: False}
    case = api.get(f"/api/cases/{at_intake}", "auditor").json()
    assert case["version"] == v2.version
    assert [(m["from"], m["to"]) for m in case["migrations"]] == [(v1, v2.version)]
    assert api.get(f"/api/cases/{at_review}", "auditor").json()["migrations"] == []
    sign_in_client(api, "clerk")
    page = api.client.get(f"/cases/{at_intake}")
    assert page.status_code == 200
    assert v2.version[:12] in page.text and "переведено с версии" in page.text
    events = api.get(f"/api/cases/{at_intake}/events", "auditor").json()
    assert events["chain_ok"] and events["events"][-1]["action"] == "migrate"


@pytest.mark.parametrize("body, field", [({"to": "xyz"}, "to"), ({"to": "abcdef"}, "to"),
                                         ({"to": "current", "extra": 1}, "extra"), ({}, "to")])
def test_api_refuses_bad_input_with_a_problem(tmp_path, body, field):
    api = Api(tmp_path)
    r = api.post("/api/procedures/2.1/migrations", "analyst", body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in r.json()["field"]
    assert api.post("/api/procedures/99.9/migrations", "analyst", {"to": "current"}).status_code == 404

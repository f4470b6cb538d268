"""A database from before migration 0009: its chains (plain SHA-256) verify under the old formula
up to the marked point, the first checkpoint seals its cases, and from then on their facts are
recomputed too; rewriting the old events or forging new ones in the old formula is caught."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update

from engine.audit.chain import GENESIS, legacy_hash
from engine.audit.legacy import SEAL
from engine.runtime.forms import example_form
from engine.store.connect import MIGRATIONS, connect
from engine.store.tables import audit_ledger, cases, events
from tests.casework import Engine
from tests.db_support import url as db_url


def _complete_first(eng: Engine, case_id: str) -> None:
    task = eng.open_tasks(case_id)[0]
    if task["kind"] == "intake":
        eng.present_documents(case_id)
    proc = eng.versions.get(eng.case(case_id)["version"])
    fields = next(s.fields for s in proc.steps if s.id == task["step"])
    eng.cases.complete_task(case_id, task["id"], example_form(fields), actor="clerk-1")


def _at_0007(path) -> dict[str, int]:
    """Cases run by today's code, then the database taken back to 0007 and every chain written
    again the way the code before 0009 wrote it. Returns case id -> its number of events."""
    eng = Engine(path)
    done, open_ = eng.start("6.1.1"), eng.start("6.1.1")
    eng.run_to_end(done)
    eng.cases.record_document(open_, "passport", "presented", actor="clerk-1")
    _complete_first(eng, open_)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with eng.db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    counts = {}
    with eng.db.begin() as conn:
        for case_id in (done, open_):
            prev = GENESIS
            rows = conn.execute(text("SELECT seq, at, actor, action, step, digest FROM events "
                                     "WHERE case_id = :id ORDER BY seq"), {"id": case_id}).all()
            for seq, at, actor, action, step, data_digest in rows:
                at = conn.execute(select(events.c.at).where(events.c.case_id == case_id,
                                                            events.c.seq == seq)).scalar_one()
                h = legacy_hash(case_id, prev, seq, at, actor, action, step, data_digest)
                conn.execute(text("UPDATE events SET prev_hash = :p, hash = :h WHERE case_id = :c "
                                  "AND seq = :s"), {"p": prev, "h": h, "c": case_id, "s": seq})
                prev = h
            conn.execute(update(cases).where(cases.c.id == case_id).values(last_hash=prev))
            counts[case_id] = len(rows)
    eng.db.dispose()
    return counts


def test_a_database_from_0007_verifies_is_sealed_and_keeps_verifying(tmp_path):
    path = tmp_path / "old.db"
    counts = _at_0007(path)
    done, open_ = counts
    eng = Engine(path)  # connect() migrates to head
    with eng.db.connect() as conn:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()  # 0009 or a later one
        assert MigrationContext.configure(conn).get_current_revision() == head
        assert conn.execute(select(audit_ledger.c.legacy_through)).scalar_one() == sum(counts.values())
        numbers = conn.execute(select(events.c.gseq).order_by(events.c.gseq)).scalars().all()
        assert numbers == list(range(1, sum(counts.values()) + 1))
    report = eng.ledger.verify(eng.db)
    assert (report.checked, report.breaks, report.unsealed) == (2, [], 2)

    _complete_first(eng, open_)  # a keyed event on an old case, before its seal
    assert eng.ledger.checkpoint(eng.db, eng.cases.now()) is not None  # seals, then signs
    with eng.db.connect() as conn:
        seals = conn.execute(select(events.c.case_id, events.c.seq).where(events.c.action == SEAL)).all()
    assert sorted(seals) == sorted([(done, counts[done] + 1), (open_, counts[open_] + 2)])
    report = eng.ledger.verify(eng.db)
    assert (report.breaks, report.unsealed) == ([], 0)

    eng.run_to_end(open_)  # the sealed case goes on
    eng.ledger.checkpoint(eng.db, eng.cases.now())
    assert eng.verify() == (2, [])
    assert eng.ledger.checkpoint(eng.db, eng.cases.now()) is None  # nothing new: nothing signed

    with eng.db.begin() as conn:  # the facts of a sealed case are now covered
        conn.execute(update(cases).where(cases.c.id == done).values(outcome="refused"))
    assert [str(b) for b in eng.verify()[1]] == [
        f"case {done}, case: outcome is 'refused' in the database, 'approved' by its events"]


def test_old_events_are_held_to_the_old_formula_and_the_marked_point(tmp_path):
    path = tmp_path / "old.db"
    done, _ = _at_0007(path)
    eng = Engine(path)
    with eng.db.begin() as conn:
        conn.execute(update(events).where(events.c.case_id == done, events.c.seq == 1)
                     .values(actor="somebody-else"))
        first = conn.execute(select(events.c.gseq).where(events.c.case_id == done, events.c.seq == 1)
                             ).scalar_one()
        conn.execute(update(audit_ledger).values(legacy_through=first))  # the point moved down
    breaks = [str(b) for b in eng.verify()[1]]
    assert f"case {done}, event 1: its fields were edited" in breaks
    assert f"case {done}, event 2: is not keyed, but was written after migration 0009 (forged with " \
           "the public formula)" in breaks


def test_the_migration_of_an_empty_database_marks_nothing(tmp_path):
    url = db_url(tmp_path / 'new.db')
    db = connect(url)
    with db.connect() as conn:  # created at head: the row is absent, which reads as 0
        assert conn.execute(select(audit_ledger)).all() == []

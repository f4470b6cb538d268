"""Termination of correspondence (engine/appeal_registers/correspondence.py): recorded by a supervisor on an
appeal that repeats an answered one; later appeals on the question fall under it."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine.appeal_registers import correspondence
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.store.tables import correspondence_terminations
from tests.appeal_fixture import answer, appeal
from tests.casework import Engine, catalog
from tests.test_repeats import PLAYGROUND, ROOF, ROOF_AGAIN

START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db", at=START)


def repeated(eng, **who):
    """An answered appeal and one repeating it: the second is what a supervisor decides on."""
    first = appeal(eng, ROOF, **who)
    answer(eng.db, first, at=eng.clock.now())
    eng.clock.advance(days=20)
    return appeal(eng, ROOF_AGAIN, **who)


def stored(eng) -> int:
    with eng.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(correspondence_terminations)).scalar_one()


def test_a_termination_keeps_who_when_applicant_authority_question_and_ground(eng):
    second = repeated(eng, applicant_user="ivan", email="ivan@example.by")
    done = correspondence.record(eng.db, second, " Повторные обращения без новых доводов ",
                                 actor="supervisor", now=eng.clock.now())
    with eng.db.connect() as conn:
        row = conn.execute(select(correspondence_terminations)).one()
    assert (row.case_id, row.authority, row.applicant, row.applicant_user, row.email) == (
        second, "org-1", "Иванов Иван Иванович", "ivan", "ivan@example.by")
    assert row.question == ROOF_AGAIN and row.ground == "Повторные обращения без новых доводов"
    assert (row.decided_by, row.id) == ("supervisor", done.id)
    assert row.decided_at.replace(tzinfo=UTC) == eng.clock.now()


def test_a_later_appeal_on_the_question_falls_under_it_and_others_do_not(eng):
    second = repeated(eng, applicant_user="ivan")
    correspondence.record(eng.db, second, "без новых доводов", actor="supervisor",
                          now=eng.clock.now())
    eng.clock.advance(days=5)
    third = appeal(eng, "Прошу отремонтировать крышу дома 5 по ул. Ленина, протекает уже полгода!!",
                   applicant_user="ivan")
    other_question = appeal(eng, PLAYGROUND, applicant_user="ivan")
    other_applicant = appeal(eng, ROOF, applicant_user="petr")
    other_authority = appeal(eng, ROOF, applicant_user="ivan", authority="org-2")
    with eng.db.connect() as conn:
        assert correspondence.termination_for(conn, third).case_id == second
        assert correspondence.termination_for(conn, second) is None  # decided on it, not after it
        for case_id in (other_question, other_applicant, other_authority):
            assert correspondence.termination_for(conn, case_id) is None
        # what CORE's registration asks before the appeal exists
        hit = correspondence.screen(conn, authority="org-1", applicant="x", applicant_user="ivan",
                                    email=None, question=ROOF)
        assert hit is not None and hit.ground == "без новых доводов"
        assert correspondence.screen(conn, authority="org-1", applicant="x", applicant_user="ivan",
                                     email=None, question=ROOF, anonymous=True) is None


def test_without_an_account_the_name_and_e_mail_must_match(eng):
    second = repeated(eng, applicant="Петров Пётр", email="petr@example.by")
    correspondence.record(eng.db, second, "без новых доводов", actor="supervisor",
                          now=eng.clock.now())
    with eng.db.connect() as conn:
        def screen(name, email):
            return correspondence.screen(conn, authority="org-1", applicant=name,
                                         applicant_user=None, email=email, question=ROOF)
        assert screen("петров петр", "PETR@example.by") is not None
        assert screen("Петров Пётр", "other@example.by") is None
        assert screen("Сидоров Пётр", "petr@example.by") is None
        assert screen("Петров Пётр", None) is None


def test_refused_decisions_store_nothing(eng):
    first = appeal(eng, ROOF, applicant_user="ivan")
    with pytest.raises(NotAllowed) as not_repeated:
        correspondence.record(eng.db, first, "без новых доводов", actor="s", now=eng.clock.now())
    assert not_repeated.value.field == "case_id"
    anonymous = appeal(eng, ROOF, anonymous=True)
    with pytest.raises(NotAllowed):
        correspondence.record(eng.db, anonymous, "x", actor="s", now=eng.clock.now())
    with pytest.raises(NotFound):
        correspondence.record(eng.db, "no-such-case", "x", actor="s", now=eng.clock.now())
    second = repeated(eng, applicant_user="ivan")
    for ground in ("", "   ", "x" * 2001, "скрытый\u202eтекст"):
        with pytest.raises(InvalidInput) as bad:
            correspondence.record(eng.db, second, ground, actor="s", now=eng.clock.now())
        assert bad.value.field == "ground"
    assert stored(eng) == 0
    correspondence.record(eng.db, second, "без новых доводов", actor="s", now=eng.clock.now())
    with pytest.raises(Conflict):
        correspondence.record(eng.db, second, "ещё раз", actor="s", now=eng.clock.now())
    assert stored(eng) == 1


def test_the_ground_it_leaves_on_is_a_leave_ground_of_the_appeal_definition():
    appeal_definition = catalog().get("appeal")
    if appeal_definition is None:
        pytest.skip("procedures/appeal.yaml is CORE's (branch appeals): checked after the merge")
    assert appeal_definition.leave_ground(correspondence.LEAVE_GROUND).id == correspondence.LEAVE_GROUND

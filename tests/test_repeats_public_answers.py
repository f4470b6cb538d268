"""Public answers (engine/appeal_registers/public_answers.py): more than ten identical appeals, one answer."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine.appeal_registers import public_answers
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.store.tables import public_answer_cases
from tests.appeal_fixture import appeal
from tests.casework import Engine

LIGHTS = "Когда будет восстановлено уличное освещение на ул. Садовой?"
WORDINGS = ["Когда восстановят уличное освещение на улице Садовой?",
            "когда будет восстановлено уличное освещение на ул Садовой",
            "КОГДА БУДЕТ ВОССТАНОВЛЕНО УЛИЧНОЕ ОСВЕЩЕНИЕ НА УЛ. САДОВОЙ!!!"]


@pytest.fixture
def eng(tmp_path):
    return Engine(tmp_path / "okno.db", at=datetime(2025, 11, 3, 8, 0, tzinfo=UTC))


def citizens(eng, n: int, **kw) -> list[str]:
    return [appeal(eng, WORDINGS[i % 3], applicant=f"Житель {i}", applicant_user=f"citizen-{i}", **kw)
            for i in range(n)]


def test_eleven_identical_appeals_get_one_public_answer_without_personal_data(eng):
    group = citizens(eng, 10)
    seed = appeal(eng, LIGHTS, applicant="Иванов Иван", applicant_user="ivan")
    appeal(eng, "Прошу отремонтировать дорогу на ул. Садовой.", applicant_user="petr")
    appeal(eng, LIGHTS, applicant_user="ivan", authority="org-2")
    done = public_answers.publish(eng.db, seed, title="Освещение на ул. Садовой",
                                  answer="Освещение восстановят до 1 декабря.", actor="supervisor",
                                  now=eng.clock.now())
    assert done.appeals == 11
    with eng.db.connect() as conn:
        linked = set(conn.execute(select(public_answer_cases.c.case_id)).scalars())
        page = public_answers.published(conn)
        assert public_answers.published(conn, authority="org-2")["total"] == 0
        assert public_answers.answer_for(conn, group[0]).id == done.id
    assert linked == {*group, seed}
    assert page["total"] == 1
    shown = page["items"][0]
    assert (shown.title, shown.answer, shown.appeals, shown.authority) == (
        "Освещение на ул. Садовой", "Освещение восстановят до 1 декабря.", 11, "org-1")
    assert not {"applicant", "question", "case_id"} & set(type(shown).__slots__)


def test_ten_are_not_enough_and_nothing_is_stored(eng):
    citizens(eng, 9)
    seed = appeal(eng, LIGHTS, applicant_user="ivan")
    with pytest.raises(NotAllowed) as few:
        public_answers.publish(eng.db, seed, title="t", answer="a", actor="s", now=eng.clock.now())
    assert few.value.field == "case_id" and "10" in few.value.detail
    with pytest.raises(NotFound):
        public_answers.publish(eng.db, "nope", title="t", answer="a", actor="s", now=eng.clock.now())
    for title, answer, field in (("", "a", "title"), ("t" * 301, "a", "title"),
                                 ("t", "", "answer"), ("t\nзаголовок", "a", "title")):
        with pytest.raises(InvalidInput) as bad:
            public_answers.publish(eng.db, seed, title=title, answer=answer, actor="s",
                                   now=eng.clock.now())
        assert bad.value.field == field
    with eng.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(public_answer_cases)).scalar_one() == 0

"""Public answers (Law 300-З): more than ten identical appeals may be answered publicly, on the
authority's site, instead of one by one.

A supervisor publishes an answer for the group of appeals identical to one of them (`publish`):
the group is every appeal of the authority among its `SCAN` newest (of the seed's topic, when it
has one) whose question is the same as the seed's (engine.appeal_registers.wording: near-duplicate
wording counts); it must hold more than `MIN_IDENTICAL - 1` appeals. The answer keeps a title and
a text the supervisor writes, the topic, how many appeals it answers and who published it when;
`public_answer_cases` which appeals. What the public pages list (`published`) holds no personal
data: no applicant, no appeal text, no case id — the title and the answer are written for the
public. Answering the appeals of the group on the merits stays each case's reply (CORE's).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from engine.appeal_registers import identity
from engine.appeal_registers.identity import APPEAL
from engine.appeal_registers.wording import normalize, same_question
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.store.tables import cases, public_answer_cases, public_answers
from engine.text import text_problem

MIN_IDENTICAL = 11  # "more than ten identical appeals"
SCAN = 2_000  # newest appeals of the authority a group is looked for among
MAX_TITLE, MAX_ANSWER = 300, 20_000
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Published:
    id: str
    authority: str
    topic: str | None
    title: str
    answer: str
    appeals: int
    published_at: datetime


def _text(value: str | None, name: str, limit: int, *, free: bool) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"{name} must be 1 to {limit} characters", field=name)
    problem = text_problem(value, free=free)
    if problem:
        raise InvalidInput(f"{name} {problem}", field=name)
    return value


def group_of(conn: Connection, seed_id: str) -> list[str]:
    """The ids of the appeals identical to the appeal `seed_id` (itself included), newest first;
    NotFound when it is not an appeal."""
    seed = identity.load(conn, seed_id)
    if seed is None:
        raise NotFound(f"no appeal {seed_id}", field="case_id")
    where = [cases.c.type == APPEAL, cases.c.authority == seed.authority]
    if seed.topic is not None:
        where.append(cases.c.topic == seed.topic)
    rows = conn.execute(select(cases.c.id, cases.c.question).where(*where)
                        .order_by(cases.c.started_at.desc()).limit(SCAN)).all()
    group = [r.id for r in rows if r.id == seed_id or same_question(seed.question, normalize(r.question))]
    if seed_id not in group:
        group.append(seed_id)
    return group


def publish(db: Engine, seed_id: str, *, title: str | None, answer: str | None, actor: str,
            now: datetime) -> Published:
    """Publish `answer` for the appeals identical to `seed_id`; NotAllowed (nothing stored) when
    they are not more than ten."""
    title = _text(title, "title", MAX_TITLE, free=False)
    answer = _text(answer, "answer", MAX_ANSWER, free=True)
    with db.begin() as conn:
        seed = identity.load(conn, seed_id)
        group = group_of(conn, seed_id)
        if len(group) < MIN_IDENTICAL:
            raise NotAllowed(f"a public answer needs more than {MIN_IDENTICAL - 1} identical "
                             f"appeals; this question has {len(group)}", field="case_id")
        done = Published(str(uuid.uuid4()), seed.authority, seed.topic, title, answer, len(group),
                         now)
        conn.execute(insert(public_answers).values(
            id=done.id, authority=done.authority, topic=done.topic, title=title, answer=answer,
            appeals=done.appeals, published_by=actor, published_at=now))
        conn.execute(insert(public_answer_cases),
                     [{"answer_id": done.id, "case_id": case_id} for case_id in group])
    return done


def published(conn: Connection, *, authority: str | None = None, limit: int = 50,
              offset: int = 0) -> dict[str, Any]:
    """A page of public answers, newest first (of one authority, or all), and the total."""
    limit = max(1, min(limit, MAX_PAGE))
    where = [] if authority is None else [public_answers.c.authority == authority]
    total = conn.execute(select(func.count()).select_from(public_answers).where(*where)).scalar_one()
    rows = conn.execute(select(public_answers.c.id, public_answers.c.authority,
                               public_answers.c.topic, public_answers.c.title,
                               public_answers.c.answer, public_answers.c.appeals,
                               public_answers.c.published_at)
                        .where(*where).order_by(public_answers.c.published_at.desc(),
                                                public_answers.c.id)
                        .limit(limit).offset(offset)).all()
    items = [Published(r.id, r.authority, r.topic, r.title, r.answer, r.appeals,
                       identity.utc(r.published_at)) for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def answer_for(conn: Connection, case_id: str) -> Published | None:
    """The public answer that answers the appeal `case_id`, if one does (the newest)."""
    row = conn.execute(select(public_answers).join(
        public_answer_cases, public_answer_cases.c.answer_id == public_answers.c.id)
        .where(public_answer_cases.c.case_id == case_id)
        .order_by(public_answers.c.published_at.desc()).limit(1)).first()
    if row is None:
        return None
    return Published(row.id, row.authority, row.topic, row.title, row.answer, row.appeals,
                     identity.utc(row.published_at))

"""A user's saved work-list filters: a name and the desk's query string, at most a few per user.

The desk (`/desk`) is a page of filters in its URL; saving one keeps that query string under a
name the user chose, so a saved filter is a link. Bounded: `MAX_PER_USER` filters, names up to
`MAX_NAME` characters, query strings up to `MAX_QUERY`. Saving a name again replaces it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from engine.errors import InvalidInput
from engine.store.tables import saved_filters

MAX_PER_USER = 20
MAX_NAME = 64
MAX_QUERY = 1000


def list_filters(db: Engine, user: str) -> list[dict[str, Any]]:
    """The user's filters by name."""
    with db.connect() as conn:
        rows = conn.execute(select(saved_filters.c.name, saved_filters.c.query)
                            .where(saved_filters.c.user == user)
                            .order_by(saved_filters.c.name).limit(MAX_PER_USER)).all()
    return [{"name": name, "query": query} for name, query in rows]


def save_filter(db: Engine, user: str, name: str, query: str, now: datetime) -> None:
    """Keep `query` under `name` (replacing a filter of that name); refused past the limits."""
    name = name.strip()
    if not name:
        raise InvalidInput("введите название фильтра", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"название фильтра не длиннее {MAX_NAME} символов", field="name")
    if "\x00" in name or "\x00" in query:
        raise InvalidInput("символ NUL недопустим", field="name")
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"фильтр не длиннее {MAX_QUERY} символов", field="query")
    t = saved_filters
    with db.execution_options(okno_write=True).begin() as conn:
        replaced = conn.execute(update(t).where(t.c.user == user, t.c.name == name)
                                .values(query=query, created_at=now)).rowcount
        if replaced:
            return
        count = conn.execute(select(func.count()).select_from(t)
                             .where(t.c.user == user)).scalar_one()
        if count >= MAX_PER_USER:
            raise InvalidInput(f"сохранено уже {MAX_PER_USER} фильтров: удалите ненужный",
                               field="name")
        conn.execute(insert(t).values(user=user, name=name, query=query, created_at=now))


def delete_filter(db: Engine, user: str, name: str) -> bool:
    """Forget the user's filter `name`; False if there was none."""
    t = saved_filters
    with db.execution_options(okno_write=True).begin() as conn:
        return bool(conn.execute(delete(t).where(t.c.user == user, t.c.name == name)).rowcount)

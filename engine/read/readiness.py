"""Whether this process can serve (GET /ready): the database answers, its schema is at the
migration this okno ships, and a catalog is published. Each check is one small query; what fails
is said in words without the database's own message (it may name hosts and users)."""
from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from engine.store.connect import schema_revision
from engine.store.versions import Versions


def problems(versions: Versions, head: str) -> list[str]:
    """What keeps the process from serving; empty when it is ready."""
    try:
        revision = schema_revision(versions.db)
        published = bool(versions.current_versions())
    except SQLAlchemyError as exc:
        return [f"the database does not answer ({type(exc).__name__})"]
    found = []
    if revision != head:
        found.append(f"the database schema is at migration {revision}, this okno needs {head}: "
                     "run `okno db upgrade`")
    if not published:
        found.append("no procedure is published")
    return found

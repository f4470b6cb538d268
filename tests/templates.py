"""Template databases: the state many tests start from (schema, published catalog, users) is built
once per session (per xdist worker: each has its own temporary folder) and copied for each test.

A copy is an ordinary SQLite file, or on PostgreSQL (tests/db_support.py) a database created
from the template with `CREATE DATABASE … TEMPLATE`: every test still gets its own fresh, real
database.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path

from sqlalchemy.engine import Engine

from tests import db_support

_root: Path | None = None
_built: dict[Hashable, Path] = {}


def use_folder(folder: Path) -> None:
    """Build templates in `folder` (tests/conftest.py gives the session's temporary folder)."""
    global _root
    _root = folder
    _built.clear()


def copy_template(key: Hashable, target: Path, build: Callable[[Path], Engine]) -> None:
    """Write to `target` a copy of the template `key`, built by `build(path)` the first time it is
    asked for (`build` returns the Engine it wrote with; it is checkpointed and closed here)."""
    template = _built.get(key)
    if template is None:
        folder = _root if _root is not None else Path(tempfile.mkdtemp(prefix="okno-templates-"))
        template = folder / f"template-{len(_built)}.db"
        if db_support.on_postgres():
            db_support.url(template, template=True)  # made now: it lives as long as the session
        db = build(template)
        if db.dialect.name == "sqlite":
            with db.connect() as conn:  # everything into the main file: the copy needs only that
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()  # CREATE DATABASE … TEMPLATE needs no one connected to the template
        wal = template.with_name(template.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0, f"{wal} still holds pages"
        _built[key] = template
    db_support.duplicate(template, target)

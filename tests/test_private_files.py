"""Files only the service may read (engine/private_files.py), whatever the umask: the SQLite
database with its WAL and shared-memory files, the folder okno makes for it, the signing key.

Real files: the database is created by `connect` and written through SQLite, the key by
`load_secret`. The umask is the process's; each test sets it and puts it back.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api.auth import load_secret
from engine.accounts import add_user
from engine.private_files import create_private_file, ensure_private_file, private_folder
from engine.settings import Settings
from engine.store.connect import connect, sqlite_file

UMASKS = [0o022, 0o002, 0o000, 0o277]


@pytest.fixture(params=UMASKS, ids=[f"umask-{m:03o}" for m in UMASKS])
def umask(request) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only  # SQLite's own file, WAL and shared-memory files
def test_the_database_and_its_wal_and_shm_files_are_the_services_alone(tmp_path, umask) -> None:
    folder = tmp_path / "var"
    db = connect(f"sqlite:///{folder / 'okno.db'}")
    add_user(db, "clerk", "correct horse", "clerk", "org-1")  # password hashes are in it now
    with db.connect() as conn:  # the WAL and shared-memory files exist while a connection is open
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        files = {p.name: _mode(p) for p in folder.iterdir()}
        assert files == {"okno.db": 0o600, "okno.db-wal": 0o600, "okno.db-shm": 0o600}
    assert _mode(folder) == 0o700
    db.dispose()


@pytest.mark.sqlite_only  # SQLite's own file, WAL and shared-memory files
def test_an_existing_database_keeps_its_mode_with_a_warning_if_others_may_read_it(tmp_path,
                                                                                   caplog) -> None:
    path = tmp_path / "okno.db"
    connect(f"sqlite:///{path}").dispose()
    assert "other users" not in caplog.text
    os.chmod(path, 0o644)  # as an older okno made it
    connect(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o644
    assert f"{path} may be read by other users" in caplog.text and "chmod 600" in caplog.text


def test_the_signing_key_is_the_services_alone(tmp_path, umask) -> None:
    key = tmp_path / "var" / "keys" / "secret.key"
    secret = load_secret(Settings(secret_file=key))
    assert key.read_text(encoding="ascii").strip() == secret
    assert _mode(key) == 0o600
    assert _mode(key.parent) == _mode(key.parent.parent) == 0o700
    assert load_secret(Settings(secret_file=key)) == secret  # made once


def test_a_private_file_is_created_once(tmp_path, umask) -> None:
    path = tmp_path / "backup" / "okno.db"
    fd = create_private_file(path)
    with os.fdopen(fd, "wb") as out:  # writable through its descriptor whatever the umask
        out.write(b"data")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    with pytest.raises(FileExistsError):
        create_private_file(path)
    assert ensure_private_file(path) is False and path.read_bytes() == b"data"
    assert ensure_private_file(tmp_path / "other") is True and _mode(tmp_path / "other") == 0o600


def test_only_the_folders_it_creates_are_made_private(tmp_path) -> None:
    os.chmod(tmp_path, 0o755)
    assert private_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (_mode(tmp_path), _mode(tmp_path / "a"), _mode(tmp_path / "a" / "b")) == (0o755, 0o700, 0o700)
    assert private_folder(tmp_path) == tmp_path


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:///var/okno.db", Path("var/okno.db")),
    ("sqlite+pysqlite:////srv/okno/okno.db", Path("/srv/okno/okno.db")),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///file:okno.db?mode=ro&uri=true", None),
    ("postgresql+psycopg://u:p@host/okno", None),
])
def test_the_file_of_a_database_url(url, path) -> None:
    assert sqlite_file(url) == path

"""engine.audit.keys: the key file is created once for its owner only; rotation keeps the old
keys verifying what they keyed; a key that is too short or missing is refused clearly."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.audit.keys import AuditKeyError, Keyring, add_key, load_keyring
from engine.audit.ledger import Ledger
from engine.runtime.commands import Cases
from tests.casework import Engine

runner = CliRunner()


def test_the_key_file_is_created_once_mode_0600(tmp_path):
    file = tmp_path / "var" / "audit.key"
    first = load_keyring(None, file)
    assert file.stat().st_mode & 0o777 == 0o600 and file.parent.stat().st_mode & 0o777 == 0o700
    assert load_keyring(None, file).current == first.current
    assert len(file.read_text().strip()) == 64


def test_the_setting_wins_over_the_file_and_holds_several_keys(tmp_path):
    old, new = "o" * 40, "n" * 40
    ring = load_keyring(f"{old} {new}", tmp_path / "never-made.key")
    assert not (tmp_path / "never-made.key").exists()
    assert ring.current.secret == new.encode() and len(ring.keys) == 2


@pytest.mark.parametrize("text", ["short", "", "   "])
def test_an_unusable_key_is_refused(text):
    with pytest.raises(AuditKeyError):
        Keyring.of(*([text] if text.strip() else []))


def test_an_empty_key_file_is_refused_with_its_name(tmp_path):
    file = tmp_path / "audit.key"
    file.write_text("")
    with pytest.raises(AuditKeyError, match="audit.key is empty"):
        load_keyring(None, file)


def test_after_rotation_old_events_verify_under_the_old_key_and_new_ones_under_the_new(tmp_path):
    file = tmp_path / "audit.key"
    eng = Engine(tmp_path / "okno.db")
    eng.ledger = Ledger(load_keyring(None, file), tmp_path / "cp")
    eng.cases = Cases(eng.db, eng.versions, eng.clock, ledger=eng.ledger)
    before = eng.start("2.1")
    old_id = eng.ledger.keys.current.id
    new_key = add_key(file)
    eng.ledger = Ledger(load_keyring(None, file), tmp_path / "cp")  # what a restart reads
    eng.cases = Cases(eng.db, eng.versions, eng.clock, ledger=eng.ledger)
    eng.run_to_end(before)
    assert eng.verify() == (1, [])
    with eng.db.connect() as conn:
        ids = set(conn.exec_driver_sql("SELECT key_id FROM events").scalars())
    assert ids == {old_id, new_key.id}
    lost = Ledger(Keyring([new_key]), None)  # the old key lost: its events cannot be verified
    breaks = lost.verify(eng.db).breaks
    assert [b.seq for b in breaks] == [1]  # said once per case and key
    assert "not in the keyring" in str(breaks[0])


def test_okno_audit_new_key_appends_to_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("OKNO_AUDIT_KEY", raising=False)
    monkeypatch.setenv("OKNO_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    result = runner.invoke(app, ["audit", "new-key"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "audit.key").read_text().split()) == 2  # created, then one added
    monkeypatch.setenv("OKNO_AUDIT_KEY", "k" * 40)
    result = runner.invoke(app, ["audit", "new-key"])
    assert result.exit_code == 2 and "OKNO_AUDIT_KEY is set" in result.output

"""The audit keys: secrets outside the database that key every event's hash and sign checkpoints.

Whoever can write the database but does not hold a key cannot make an event, a chain or a
checkpoint that verifies. The keys come from the `audit_key` setting (`OKNO_AUDIT_KEY`), else from
`audit_key_file` (default `var/audit.key`), created with one random key, mode 0600, when it does
not exist. Either holds one key per line (the setting: separated by whitespace), **newest last**:
the newest keys new events and checkpoints; every key verifies the events it keyed (each event
names its key by `key_id`). Rotating is appending a key (`okno audit new-key`) and restarting the
processes that write; a lost key leaves the events it keyed unverifiable (docs/engine.md).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from engine.private_files import create_private_file

DEFAULT_KEY_FILE = Path("var/audit.key")
MIN_KEY_LENGTH = 32  # characters: a generated key is 64 hex digits


class AuditKeyError(ValueError):
    """The audit keys cannot be used (too short, file unreadable); the message says which."""


@dataclass(frozen=True)
class AuditKey:
    """One key: its secret and its public id (an HMAC of a fixed text: it reveals nothing)."""

    secret: bytes
    id: str

    @classmethod
    def of(cls, text: str) -> AuditKey:
        text = text.strip()
        if len(text) < MIN_KEY_LENGTH:
            raise AuditKeyError(f"an audit key must be at least {MIN_KEY_LENGTH} characters")
        secret = text.encode("utf-8")
        return cls(secret, hmac.new(secret, b"okno audit key id", hashlib.sha256).hexdigest()[:16])

    def mac(self, purpose: bytes):
        """A fresh HMAC-SHA256 under this key for one purpose (events, checkpoints): `.copy()` it."""
        derived = hmac.new(self.secret, purpose, hashlib.sha256).digest()
        return hmac.new(derived, digestmod=hashlib.sha256)


class Keyring:
    """The audit keys, newest last: the newest writes, every one verifies."""

    def __init__(self, keys: list[AuditKey]) -> None:
        if not keys:
            raise AuditKeyError("no audit key")
        self.keys = {k.id: k for k in keys}
        self.current = keys[-1]

    @classmethod
    def of(cls, *texts: str) -> Keyring:
        return cls([AuditKey.of(t) for t in texts])

    def get(self, key_id: str | None) -> AuditKey | None:
        return self.keys.get(key_id) if key_id is not None else None


def parse(text: str) -> Keyring:
    return Keyring([AuditKey.of(line) for line in text.split() if line.strip()])


def load_keyring(key: str | None, file: Path = DEFAULT_KEY_FILE) -> Keyring:
    """The keys of the `audit_key` setting, else of `file` (created with a random key if absent)."""
    if key is not None:
        return parse(key)
    file = Path(file)
    try:
        fd = create_private_file(file)  # 0600, a folder it creates 0700, whatever the umask
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            text = file.read_text(encoding="utf-8")
            if text.strip():
                return parse(text)
            time.sleep(0.02)
        raise AuditKeyError(f"{file} is empty; restore the audit key from its backup") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
    return parse(file.read_text(encoding="utf-8"))


def add_key(file: Path) -> AuditKey:
    """Append a new random key to `file` (it becomes the current one); the old keys stay."""
    load_keyring(None, file)  # the file exists and holds usable keys
    key = AuditKey.of(secrets.token_hex(32))
    with open(file, "a", encoding="ascii") as out:
        out.write(key.secret.decode() + "\n")
    return key

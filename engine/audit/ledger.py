"""The audit ledger of one database: its keys, where its checkpoints go, and what a sweep does.

An entry point builds one `Ledger` from the settings (`audit_key` / `audit_key_file`,
`audit_checkpoints`) and hands it to `Cases`, whose commands key their events with it; the
worker's sweep and `okno audit checkpoint` call `checkpoint`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from engine.audit import legacy
from engine.audit.chain import EventWriter
from engine.audit.checkpoints import Checkpoint, write_checkpoint
from engine.audit.keys import Keyring
from engine.audit.verify import Report, verify

log = logging.getLogger("okno.audit")
DEFAULT_CHECKPOINTS = Path("var/audit-checkpoints")


@dataclass
class Ledger:
    keys: Keyring
    checkpoints: Path | None = DEFAULT_CHECKPOINTS  # None: no checkpoints (tools, some tests)
    writer: EventWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = EventWriter(self.keys)

    def checkpoint(self, db: Engine, now: datetime) -> Checkpoint | None:
        """Seal cases begun before migration 0009 (a batch), then sign the log's head if it grew."""
        sealed = legacy.seal_legacy_cases(db, self.writer, now)
        if sealed:
            log.info("sealed %d case(s) begun before the keyed audit log", sealed)
        if self.checkpoints is None:
            return None
        return write_checkpoint(db, self.checkpoints, self.keys, now)

    def verify(self, db: Engine, case_id: str | None = None) -> Report:
        return verify(db, self.keys, case_id, self.checkpoints)

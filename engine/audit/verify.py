"""`okno audit verify`: every case's chain and facts, and the whole log against its checkpoints.

For each case: its events follow each other (sequence, previous hash), each event's data and
effects are what its keyed hash covers (old events: the old formula, only up to the marked
point), the case row's head (row version, last hash) is its newest event, and its stored facts are
what its events recorded (`facts`). For the whole database: the catalog's chain and the
publications it records (`catalog`), events of cases that do not exist,
and the log against every signed checkpoint (`checkpoints.check`): a deleted case, a truncated
log, a rewritten chain before the newest checkpoint.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Engine

from engine.audit import catalog, checkpoints, facts
from engine.audit.chain import GENESIS, EventMac, case_events, digest, legacy_hash
from engine.audit.keys import Keyring
from engine.store.tables import cases, events


@dataclass(frozen=True)
class Break:
    """One place where the ledger does not hold: in a case (`case_id`), or in the log (None)."""

    case_id: str | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        if self.case_id is None:
            return f"log: {self.message}"
        if self.case_id == catalog.CATALOG:
            where = f"event {self.seq}" if self.seq is not None else "publications"
            return f"catalog, {where}: {self.message}"
        where = f"event {self.seq}" if self.seq is not None else "case"
        return f"case {self.case_id}, {where}: {self.message}"


@dataclass
class Report:
    """What `verify` checked and found."""

    checked: int = 0
    breaks: list[Break] = field(default_factory=list)
    unsealed: int = 0  # cases begun before migration 0009 whose facts have no record yet
    log: dict[str, Any] = field(default_factory=dict)  # the checkpoint summary (whole log only)
    catalog_events: int = 0  # events of the catalog's chain (publications; whole log only)


class _Chains:
    """Checks one case's chain; keyed hashes under each key are set up once."""

    def __init__(self, keys: Keyring, legacy_through: int) -> None:
        self.keys, self.legacy_through = keys, legacy_through
        self.macs: dict[str, EventMac] = {}

    def breaks(self, case_id: str, rows: list[dict[str, Any]], last_hash: str,
               row_version: int) -> Iterator[Break]:
        prev, keyed, unknown = GENESIS, False, set()
        for expected_seq, row in enumerate(rows, start=1):
            seq = row["seq"]
            if seq != expected_seq:
                yield Break(case_id, seq, f"expected event {expected_seq}: an event is missing or reordered")
            if row["prev_hash"] != prev:
                yield Break(case_id, seq, "does not follow the previous event (deleted or reordered)")
            if digest(orjson.loads(row["data"])) != row["digest"]:
                yield Break(case_id, seq, "its data was edited")
            for item in self._hash(case_id, row, keyed):
                if item.message.startswith("is keyed with key"):  # once per case and key
                    if row["key_id"] in unknown:
                        continue
                    unknown.add(row["key_id"])
                yield item
            keyed = keyed or row["key_id"] is not None
            prev = row["hash"]
        if len(rows) != row_version:
            yield Break(case_id, None, f"{row_version} events expected, {len(rows)} found")
        if prev != last_hash:
            yield Break(case_id, None, "the newest event does not match the case (deleted or edited)")

    def _hash(self, case_id: str, row: dict[str, Any], keyed: bool) -> Iterator[Break]:
        seq, key_id = row["seq"], row["key_id"]
        if key_id is None:  # the old formula: only where migration 0009 found it
            if row["gseq"] > self.legacy_through or keyed or row["effects"] is not None:
                yield Break(case_id, seq, "is not keyed, but was written after migration 0009 "
                                          "(forged with the public formula)")
            elif legacy_hash(case_id, row["prev_hash"], seq, row["at"], row["actor"], row["action"],
                             row["step"], row["digest"]) != row["hash"]:
                yield Break(case_id, seq, "its fields were edited")
            return
        mac = self.macs.get(key_id)
        if mac is None:
            key = self.keys.get(key_id)
            if key is None:
                yield Break(case_id, seq, f"is keyed with key {key_id}, which is not in the keyring "
                                          "(a lost key, or a forged event); so may be later ones")
                return
            mac = self.macs[key_id] = EventMac(key)
        expected = mac(case_id, row["prev_hash"], seq, row["at"], row["actor"], row["action"],
                       row["step"], row["digest"], row["effects"] or "")
        if not hmac.compare_digest(expected, row["hash"]):
            yield Break(case_id, seq, "its fields were edited, or it was rechained without the key")


def verify(db: Engine, keys: Keyring, case_id: str | None = None,
           checkpoint_folder: Path | None = None) -> Report:
    """Check one case, or every case and (with `checkpoint_folder`) the log against its checkpoints."""
    report = Report()
    with db.connect() as conn:
        chains = _Chains(keys, checkpoints.legacy_through(conn))
        query = select(cases.c.id, cases.c.last_hash, cases.c.row_version).order_by(cases.c.id)
        if case_id is not None:
            query = query.where(cases.c.id == case_id)
        for cid, last_hash, row_version in conn.execute(query).all():
            report.checked += 1
            rows = case_events(conn, cid)
            report.breaks.extend(chains.breaks(cid, rows, last_hash, row_version))
            recorded, actual = facts.replay(rows), facts.stored(conn, cid)
            if recorded is None:
                report.unsealed += 1
            elif actual is not None:
                report.breaks.extend(Break(cid, seq, what) for seq, what in recorded.problems)
                report.breaks.extend(Break(cid, None, d) for d in facts.differences(recorded, actual))
        if case_id is not None:
            return report
        rows = catalog.chain_rows(conn)
        report.catalog_events = len(rows)
        report.breaks.extend(chains.breaks(catalog.CATALOG, rows, rows[-1]["hash"] if rows else GENESIS,
                                           len(rows)))
        report.breaks.extend(Break(catalog.CATALOG, seq, what)
                             for seq, what in catalog.publication_breaks(conn, rows))
        orphans = conn.execute(select(events.c.case_id).where(events.c.case_id.not_in(select(cases.c.id)),
                                                              events.c.case_id != catalog.CATALOG)
                               .distinct()).scalars().all()
        report.breaks.extend(Break(o, None, "events of a case that does not exist") for o in orphans)
        if checkpoint_folder is not None:
            problems, report.log = checkpoints.check(conn, checkpoint_folder, keys)
            report.breaks.extend(Break(None, None, p) for p in problems)
    return report

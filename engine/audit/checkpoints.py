"""Signed checkpoints of the audit log's head, kept in a folder outside the database.

A checkpoint says: the log held `size` events, the last at `last_gseq`, `cases` of them were a
case's first event, its Merkle root (`merkle`) was `root`, and events up to `legacy_through` were
written under the old formula; signed (HMAC-SHA256 under the current audit key, a key derived for
checkpoints only) with the time it was made. `checkpoints.log` in the folder holds one JSON line
per checkpoint, appended; `head.json` the newest one with its tree frontier, so the next
checkpoint reads only the events after it. The worker writes one on every sweep in which the log
grew (`okno audit checkpoint` too); `check` recomputes the tree over the whole log and compares
every prefix a checkpoint signed. A deleted case, a truncated log or a rewritten chain before the
newest checkpoint therefore no longer matches. Why a Merkle root and not a chain head: the chains
are per case, so the step never reads a global head (no query, no global lock); the tree over the
global order is computed off the hot path, extends in O(log n) state, and its later roots prove
the earlier prefixes unchanged (consistency), as in Certificate Transparency.
"""
from __future__ import annotations

import contextlib
import fcntl
import hmac
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from engine.audit.chain import instant
from engine.audit.keys import Keyring
from engine.audit.merkle import Frontier
from engine.store.tables import audit_ledger, events

log = logging.getLogger("okno.audit")
PURPOSE = b"okno audit checkpoint v1"
LOG_FILE, HEAD_FILE, LOCK_FILE = "checkpoints.log", "head.json", ".lock"
BATCH = 5000


@dataclass(frozen=True)
class Checkpoint:
    size: int
    last_gseq: int
    root: str
    cases: int
    legacy_through: int
    at: str
    key: str
    sig: str = ""

    def signed_text(self) -> bytes:
        return "\n".join(("okno-checkpoint/1", str(self.size), str(self.last_gseq), self.root,
                          str(self.cases), str(self.legacy_through), self.at, self.key)).encode()

    def line(self) -> bytes:
        return orjson.dumps(asdict(self)) + b"\n"


def sign(cp: Checkpoint, keys: Keyring) -> Checkpoint:
    mac = keys.current.mac(PURPOSE)
    mac.update(cp.signed_text())
    return Checkpoint(**{**asdict(cp), "key": keys.current.id, "sig": mac.hexdigest()})


def signature_holds(cp: Checkpoint, keys: Keyring) -> bool:
    key = keys.get(cp.key)
    if key is None:
        return False
    mac = key.mac(PURPOSE)
    mac.update(cp.signed_text())
    return hmac.compare_digest(mac.hexdigest(), cp.sig)


def legacy_through(conn: Connection) -> int:
    """The newest event written under the old formula (0: none; also when the row is missing,
    so deleting it makes every old event fail the keyed check instead of passing it)."""
    value = conn.execute(select(audit_ledger.c.legacy_through).where(audit_ledger.c.id == 1)).scalar()
    return int(value or 0)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One checkpoint writer at a time (the worker and `okno audit checkpoint` may overlap)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _head(folder: Path, keys: Keyring) -> tuple[Checkpoint, Frontier] | None:
    """The newest checkpoint and its frontier, if `head.json` is there and its signature holds."""
    try:
        data = orjson.loads((folder / HEAD_FILE).read_bytes())
        cp = Checkpoint(**data["checkpoint"])
        frontier = Frontier.load(cp.size, data["frontier"])
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        log.error("audit checkpoint head %s is unreadable (%s): starting the tree over",
                  folder / HEAD_FILE, exc)
        return None
    if not signature_holds(cp, keys) or frontier.root() != cp.root:
        log.error("audit checkpoint head %s does not verify: starting the tree over", folder / HEAD_FILE)
        return None
    return cp, frontier


def write_checkpoint(db: Engine, folder: Path, keys: Keyring, now: datetime) -> Checkpoint | None:
    """Sign the log's head into `folder` if the log grew since the last checkpoint; the new
    checkpoint (None if nothing was written)."""
    folder = Path(folder)
    with _locked(folder):
        head = _head(folder, keys)
        cp, frontier = head if head is not None else (None, Frontier())
        last_gseq, cases = (cp.last_gseq, cp.cases) if cp else (0, 0)
        with db.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                # A sequence number can commit after a higher one; SHARE mode waits for the
                # writers in flight and holds new ones off while the new events are read.
                conn.execute(text("LOCK TABLE events IN SHARE MODE"))
            boundary = legacy_through(conn)
            if cp is not None:
                if boundary != cp.legacy_through:
                    log.error("audit_ledger.legacy_through is %d, the checkpoints say %d: keeping %d",
                              boundary, cp.legacy_through, cp.legacy_through)
                    boundary = cp.legacy_through
                kept = conn.execute(select(events.c.hash).where(events.c.gseq == cp.last_gseq)).scalar()
                if cp.size and kept is None:
                    log.error("the audit log no longer holds event %d of its last checkpoint: "
                              "run `okno audit verify`", cp.last_gseq)
            added = 0
            while True:
                rows = conn.execute(select(events.c.gseq, events.c.seq, events.c.hash)
                                    .where(events.c.gseq > last_gseq).order_by(events.c.gseq)
                                    .limit(BATCH)).all()
                for gseq, seq, event_hash in rows:
                    frontier.append(event_hash)
                    cases += seq == 1
                    last_gseq = gseq
                added += len(rows)
                if len(rows) < BATCH:
                    break
        if not added:
            return None
        new = sign(Checkpoint(frontier.size, last_gseq, frontier.root(), cases, boundary,
                              instant(now), keys.current.id), keys)
        fd = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, new.line())
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp = folder / (HEAD_FILE + ".tmp")
        tmp.write_bytes(orjson.dumps({"checkpoint": asdict(new), "frontier": frontier.dump()}))
        os.replace(tmp, folder / HEAD_FILE)
        return new


def read_checkpoints(folder: Path) -> list[tuple[int, Checkpoint | None]]:
    """Every line of the checkpoint log: (line number, the checkpoint, or None if unreadable)."""
    try:
        lines = (Path(folder) / LOG_FILE).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    out: list[tuple[int, Checkpoint | None]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append((number, Checkpoint(**orjson.loads(line))))
        except (ValueError, TypeError):
            out.append((number, None))
    return out


def check(conn: Connection, folder: Path, keys: Keyring) -> tuple[list[str], dict[str, Any]]:
    """The log against every checkpoint in `folder`: what does not match, in words, and a
    summary (events in the log, checkpoints, the newest)."""
    problems: list[str] = []
    signed: list[Checkpoint] = []
    for number, cp in read_checkpoints(folder):
        if cp is None:
            problems.append(f"checkpoint line {number} is not a checkpoint (edited)")
        elif not signature_holds(cp, keys):
            problems.append(f"checkpoint line {number} ({cp.at}): its signature does not verify "
                            f"(edited, forged, or signed with a key not in the keyring)")
        else:
            signed.append(cp)
    signed.sort(key=lambda c: c.size)
    boundary = legacy_through(conn)
    for cp in signed:
        if cp.legacy_through != boundary:
            problems.append(f"events up to {boundary} are marked as written before migration "
                            f"0009; the checkpoint of {cp.at} says up to {cp.legacy_through}")
            break
    frontier, cases, last_gseq, pending = Frontier(), 0, 0, list(signed)
    matched_size, failed = 0, False
    result = conn.execution_options(stream_results=True).execute(
        select(events.c.gseq, events.c.seq, events.c.hash).order_by(events.c.gseq))
    for gseq, seq, event_hash in result:
        frontier.append(event_hash)
        cases += seq == 1
        last_gseq = gseq
        while pending and pending[0].size == frontier.size:
            cp = pending.pop(0)
            if not failed:
                failed = not _matches(cp, frontier, cases, last_gseq, matched_size, problems)
                matched_size = cp.size if not failed else matched_size
    if pending and not failed:
        problems.append(_shorter(conn, pending[0]))
    summary = {"events": frontier.size, "checkpoints": len(signed),
               "newest": signed[-1] if signed else None}
    return problems, summary


def _shorter(conn: Connection, cp: Checkpoint) -> str:
    """What is missing from a log that ends before `cp`'s size."""
    upto = events.c.gseq <= cp.last_gseq
    held = conn.execute(select(func.count()).where(upto)).scalar_one()
    begun = conn.execute(select(func.count()).where(upto, events.c.seq == 1)).scalar_one()
    said = (f"the log holds {held} events up to the last one the checkpoint of {cp.at} signed "
            f"(number {cp.last_gseq}), not {cp.size}: {cp.size - held} deleted")
    if begun < cp.cases:
        said += f"; {cp.cases - begun} case(s) begun by then are gone (deleted with their events)"
    return said


def _matches(cp: Checkpoint, frontier: Frontier, cases: int, last_gseq: int, matched: int,
             problems: list[str]) -> bool:
    """Whether the log's first `cp.size` events are what `cp` signed; if not, say where."""
    where = f"events {matched + 1}..{cp.size} of the log do not match the checkpoint of {cp.at}"
    if frontier.root() == cp.root and last_gseq == cp.last_gseq and cases == cp.cases:
        return True
    if cases < cp.cases:
        problems.append(f"{where}: {cp.cases - cases} case(s) begun by then are gone (deleted "
                        f"with their events), or events were deleted")
    elif last_gseq != cp.last_gseq:
        problems.append(f"{where}: events were deleted or inserted (the log's {cp.size}th event "
                        f"is number {last_gseq}, was {cp.last_gseq})")
    else:
        problems.append(f"{where}: an event was edited, rechained, replaced or reordered")
    return False

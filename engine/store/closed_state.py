"""The workflow state of a closed case: a compact stand-in for the full state it replaces.

A closed case takes no more commands, and nothing reads its workflow: the case page, its diagram,
the case JSON and the reports read the case row, its task rows, its documents and its audit
events (engine.read). So closing a case replaces its workflow state (12.4 KB for the housing
register) by this stand-in, which keeps only the SHA-256 of the full state it replaced:
`{"closed": {"replaces": "<sha256 hex>"}}` in format `FORMAT` (about 90 bytes).

The audit ledger records the state by its digest (`audit.facts`). The `close` command writes the
stand-in itself, so its event records the stand-in's digest like any other state. A case closed
before the stand-in existed is compacted afterwards (migration 0017): its events recorded the full
state, and the stand-in stands for exactly that state (`replaced` reads the digest back, and only
from a stand-in written byte for byte by `compact`, so an edited one does not pass).
"""
from __future__ import annotations

import hashlib

import orjson

FORMAT = "okno-closed/1"  # cases.state_format of a stand-in


def compact(full_state: bytes) -> bytes:
    """The stand-in for `full_state`."""
    return orjson.dumps({"closed": {"replaces": hashlib.sha256(full_state).hexdigest()}})


def replaced(state: bytes, state_format: str) -> str | None:
    """The digest of the full state a stand-in replaces; None if `state` is not a stand-in as
    `compact` writes it."""
    if state_format != FORMAT:
        return None
    try:
        digest = orjson.loads(state)["closed"]["replaces"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    expected = orjson.dumps({"closed": {"replaces": digest}})
    return digest if bytes(state) == expected else None

"""Publish a changed catalog: validate, diff against what is current, store atomically, audit.

Each publication is a `publications` row and an event of the catalog's audit chain
(engine.audit.catalog), written in the transaction that stores the versions: who, what (the
versions that became current), the diff summary and the burden increases confirmed. `okno audit
verify` compares the two, so an edited or deleted publication is named."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from engine.audit import catalog
from engine.audit.chain import EventWriter, digest
from engine.definition.procedure import Procedure
from engine.definition.validation import Problem
from engine.diff.model import BURDEN, CatalogDiff, Change
from engine.diff.pairing import diff_catalogs
from engine.errors import InvalidInput, NotAllowed
from engine.publication.files import validate_files
from engine.store.tables import publications
from engine.store.versions import Versions

MAX_CONFIRMATIONS = 200


class InvalidFiles(InvalidInput):
    """The files have problems (every one of them in `problems`); nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the files: {problems[0]}", field="files")


class BurdensUnconfirmed(NotAllowed):
    """The diff increases the burden (Directive No. 2 §2.3) on procedures not confirmed by number."""

    def __init__(self, numbers: list[str], changes: list[Change]) -> None:
        self.numbers, self.changes = numbers, changes
        super().__init__("burden increases not confirmed for procedure(s) " + ", ".join(numbers),
                         field="confirm_burdens")


@dataclass(frozen=True)
class Publication:
    id: int | None  # None: nothing new (every definition is already current)
    versions: dict[str, str]  # number -> version, of what became current
    diff: CatalogDiff


def publish(versions: Versions, source: Mapping[str, bytes] | Iterable[Procedure], actor: str,
            confirm_burdens: Iterable[str] = (), *, writer: EventWriter) -> Publication:
    """Publish `source` (in-memory files {name: bytes}, or built Procedures) by `actor`.

    The diff is taken against the current versions of the published numbers (procedures not
    published stay as they are). Every burden increase must be confirmed by its procedure's
    number in `confirm_burdens`; otherwise `BurdensUnconfirmed` lists them. All new versions
    and the publication row with its audit event (keyed by `writer`, the ledger's) are stored
    in ONE transaction: they become current together."""
    procedures = _procedures(source)
    confirmed = sorted(set(confirm_burdens))
    if len(confirmed) > MAX_CONFIRMATIONS:
        raise InvalidInput(f"at most {MAX_CONFIRMATIONS} confirmations", field="confirm_burdens")
    new = {p.number: p for p in procedures}
    current = versions.current_versions()
    old = {n: versions.get(current[n]) for n in new if n in current}
    diff = diff_catalogs(old, new, old_label="current", new_label="published")
    burdens = [c for c in diff.changes if c.class_ == BURDEN and c.number not in confirmed]
    if burdens:
        raise BurdensUnconfirmed(sorted({c.number for c in burdens}), burdens)
    published: dict[str, str] = {}
    row_id: list[int] = []

    def record(conn: Connection, added: list[str]) -> None:
        if not added:
            return
        published.update({p.number: p.version for p in procedures if p.version in added})
        data = {"actor": actor, "versions": published, "summary": diff.summary, "confirmed": confirmed}
        at = versions.clock.now()
        row = {"at": at, "actor": actor, "versions": _json(published),
               "summary": _json(diff.summary), "confirmed": _json(confirmed), "digest": digest(data)}
        result = conn.execute(insert(publications).values(**row))
        row_id.append(result.inserted_primary_key[0])
        changed = sorted({c.number for c in diff.changes})
        catalog.append(conn, writer, at, actor, catalog.PUBLISH,
                       {"publication": row_id[0], **data, "changed": changed},
                       {"publication": catalog.publication_row({"id": row_id[0], **row})})

    versions.publish(procedures, record=record)
    return Publication(row_id[0] if row_id else None, published, diff)


def _procedures(source: Mapping[str, bytes] | Iterable[Procedure]) -> list[Procedure]:
    if not isinstance(source, Mapping):
        return list(source)
    procedures, problems = validate_files(dict(source))
    if problems:
        raise InvalidFiles(problems)
    return procedures


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

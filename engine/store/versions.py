"""Procedure versions in the database: each distinct definition is stored once, by content hash.

A running case stays on the version it started with; new cases take the newest version of the
number. Procedures are rebuilt from the stored definition, so a case can run after its YAML file
changed or disappeared.

The BPMN compiled from a version's steps is stored with it (`compiled_xml`) and the rebuilt
Procedure carries it (`Procedure.pinned_xml`): a case runs the process it started on even after a
release changes the compiler. A version stored before that column existed is pinned the first time
it is read, with what the running release compiles.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from engine.bpmn.xml import BpmnError
from engine.clock import SystemClock
from engine.definition.build import build_procedure, number_key
from engine.definition.procedure import Procedure
from engine.errors import NotFound
from engine.process.compile import compile_procedure
from engine.store.tables import procedure_versions

_NEWEST_SEQ = select(func.coalesce(func.max(procedure_versions.c.seq), 0))


class Versions:
    """Stored procedure versions, with the Procedures already built kept in memory."""

    def __init__(self, db: Engine, clock: SystemClock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._by_version: dict[str, Procedure] = {}
        self._current: dict[str, str] | None = None
        self._current_seq: int | None = None
        self._lock = threading.Lock()

    def publish(self, procedures: Iterable[Procedure], *, revive: bool = True,
                record: Callable[[Connection, list[str]], None] | None = None) -> list[str]:
        """Store the versions not stored yet; they become the newest of their numbers. Returns them.

        `revive=False` (startup loading of procedures/): a known version that is no longer
        current stays where it is, so a restart does not undo a later publication.
        `record(conn, added)` runs in the same transaction (the publication's audit row)."""
        added: list[str] = []
        # The write lock first (BEGIN IMMEDIATE on SQLite): two processes starting on one database
        # then publish one after the other instead of racing to insert the same versions.
        with self.db.execution_options(okno_write=True).begin() as conn:
            known = set(conn.execute(select(procedure_versions.c.version)).scalars())
            current = dict(self._load_current(conn))
            seq = conn.execute(select(func.coalesce(func.max(procedure_versions.c.seq), 0))).scalar_one()
            for proc in procedures:
                if proc.version in known and (current.get(proc.number) == proc.version or not revive):
                    continue
                # A known version that is not current came back: it becomes the newest again.
                seq += 1
                if proc.version in known:
                    conn.execute(procedure_versions.update()
                                 .where(procedure_versions.c.version == proc.version)
                                 .values(seq=seq, loaded_at=self.clock.now()))
                    # It runs what it was stored with, not what this release compiles.
                    stored = conn.execute(select(procedure_versions.c.compiled_xml)
                                          .where(procedure_versions.c.version == proc.version)).scalar_one()
                    xml = stored if stored is not None else _backfill(conn, proc)
                else:
                    xml = _compiled(proc)
                    conn.execute(insert(procedure_versions).values(
                        version=proc.version, number=proc.number, name=proc.name,
                        definition=proc.definition_json.decode(), bpmn_xml=proc.bpmn_xml,
                        compiled_xml=xml, source=proc.source, loaded_at=self.clock.now(), seq=seq))
                    known.add(proc.version)
                current[proc.number] = proc.version
                self._by_version[proc.version] = _pinned(proc, xml)
                added.append(proc.version)
            if record is not None:
                record(conn, added)
        return added  # current_versions() sees the new load sequence and reloads

    def get(self, version: str) -> Procedure:
        """The Procedure of a stored version (built once per process)."""
        proc = self._by_version.get(version)
        if proc is not None:
            return proc
        with self.db.connect() as conn:
            row = conn.execute(select(procedure_versions).where(procedure_versions.c.version == version)).first()
        if row is None:
            raise NotFound(f"procedure version {version} is not stored", field="version")
        proc = build_procedure(orjson.loads(row.definition), row.source, row.bpmn_xml)
        xml = row.compiled_xml
        if xml is None and proc.bpmn_xml is None:  # stored before compiled_xml existed
            with self.db.execution_options(okno_write=True).begin() as conn:
                xml = _backfill(conn, proc)
        proc = _pinned(proc, xml)
        self._by_version[version] = proc
        return proc

    def current(self, number: str) -> Procedure:
        """The newest version of a procedure number."""
        version = self.current_versions().get(number)
        if version is None:
            raise NotFound(f"procedure {number} is not in the catalog", field="number")
        return self.get(version)

    def current_versions(self) -> dict[str, str]:
        """number -> newest version, in the official list's order.

        Another process may publish at any time (a rolling restart, `okno run` beside a server),
        so the cached map is checked against the newest load sequence on every call: one small
        aggregate query instead of the whole map.
        """
        with self.db.connect() as conn:
            seq = conn.execute(_NEWEST_SEQ).scalar_one()
            with self._lock:
                if self._current is None or self._current_seq != seq:
                    pairs = self._load_current(conn)
                    self._current = dict(sorted(pairs, key=lambda p: number_key(p[0])))
                    self._current_seq = seq
                return self._current

    def history(self, number: str) -> list[dict]:
        with self.db.connect() as conn:
            rows = conn.execute(select(procedure_versions.c.version, procedure_versions.c.loaded_at,
                                       procedure_versions.c.seq)
                                .where(procedure_versions.c.number == number)
                                .order_by(procedure_versions.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def _load_current(conn) -> list[tuple[str, str]]:
        newest = (select(procedure_versions.c.number, func.max(procedure_versions.c.seq).label("seq"))
                  .group_by(procedure_versions.c.number).subquery())
        rows = conn.execute(select(procedure_versions.c.number, procedure_versions.c.version)
                            .join(newest, (newest.c.number == procedure_versions.c.number)
                                  & (newest.c.seq == procedure_versions.c.seq))).all()
        return [(r[0], r[1]) for r in rows]


def _compiled(proc: Procedure) -> str | None:
    """The XML to store for a new version: its compiled steps; None for a drawn BPMN (`bpmn_xml`
    is already stored) or steps the compiler refuses (such a version cannot start a case anyway:
    starting one reports why)."""
    if proc.bpmn_xml is not None:
        return None
    try:
        return compile_procedure(proc)
    except BpmnError:
        return None


def _backfill(conn: Connection, proc: Procedure) -> str | None:
    """Pin a version stored without compiled XML to what this release compiles; returns the XML
    now stored (another process may have pinned it first: its text wins)."""
    xml = _compiled(proc)
    if xml is None:
        return None
    conn.execute(update(procedure_versions)
                 .where(procedure_versions.c.version == proc.version,
                        procedure_versions.c.compiled_xml.is_(None))
                 .values(compiled_xml=xml))
    return conn.execute(select(procedure_versions.c.compiled_xml)
                        .where(procedure_versions.c.version == proc.version)).scalar_one()


def _pinned(proc: Procedure, xml: str | None) -> Procedure:
    return dataclasses.replace(proc, pinned_xml=xml) if xml is not None else proc

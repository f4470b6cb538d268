"""The crash test: clients keep creating cases and completing steps while processes are killed.

Real processes on loopback: `okno serve --workers 2` and `okno worker` on a real SQLite file (or,
when `OKNO_TEST_DATABASE_URL` names a PostgreSQL server, on a fresh database made there), and a
load of client threads (httpx), each request with an Idempotency-Key and retried with the same
key until it is answered, as a careful client does. Mid-load one server worker is killed with
SIGKILL; later the whole server and the scheduler worker are; both are started again. Then:

- every acknowledged step is stored exactly once (per case, the completion events and the done
  tasks are the completions acknowledged, and the row version counts the events);
- no case is half-written: its open task rows are exactly the ready tasks of its stored workflow
  state, and `okno audit verify` passes (every chain verifies, its facts recomputed);
- every key is retried once more and replays its first answer byte for byte, those whose answer
  was cut off by a kill included (a create: the same case id), and no case was made twice.

Each wait has a deadline. Selected with `-m crash`; it runs in `make test` with the rest.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engine import idempotency as keys
from engine.accounts import add_user
from engine.clock import SystemClock
from engine.runtime.case import ready_tasks
from engine.runtime.commands import Cases
from engine.settings import Settings
from engine.store.connect import connect
from engine.store.tables import cases, events, tasks
from engine.store.versions import Versions
from tests.casework import CATALOG, catalog
from tests.serving import (
    alive,
    free_port,
    okno_process,
    serve_args,
    server_workers,
    wait_for,
    wait_until_up,
)
from tests.test_api_support import task_data

pytestmark = [pytest.mark.crash,
              pytest.mark.skipif(os.uname().sysname != "Linux", reason="reads /proc")]

NUMBER = "2.1"  # four steps: intake, review, decision (a supervisor's), issue
USER, PASSWORD, ORG = "boss", "correct horse battery staple", "minsk-sovetsky"
CLIENTS = 6
BATCH = 30  # acknowledged answers between one kill and the next
ATTEMPT_TIMEOUT = 20.0  # seconds one attempt may take
# Deadlines, generous: a start of okno serve (three processes importing the app, ~4 s of processor
# each) took 50-85 s on this project's shared 2-core machine at a load average of 10-14, and over
# 90 s with the rest of the suite running beside it.
STARTUP = 300.0  # seconds okno serve may take to answer
REQUEST_DEADLINE = STARTUP + 60  # seconds a request is retried (the server restarts in between)
PHASE = 180.0  # seconds a batch of answers may take


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or a fresh database on the PostgreSQL server of OKNO_TEST_DATABASE_URL."""
    server = os.environ.get("OKNO_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'okno.db'}"
        return
    name = f"okno_crash_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Sent:
    """One keyed request and what became of it."""

    key: str
    url: str
    body: dict[str, Any]
    case_id: str | None = None  # of a completion
    attempts: int = 0
    cut_off: int = 0  # attempts that got no answer (connection refused, reset, timed out)
    hung_up: bool = False  # sent first by a client that hung up without reading the answer
    answer: httpx.Response | None = None  # the first answer received


@dataclass
class Load:
    base: str
    port: int
    token: str
    tag: str  # the applicant of every case: what this test made
    db: Any  # the database, to see a hung-up request's key stored
    stop: threading.Event = field(default_factory=threading.Event)
    sent: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self) -> int:
        with self.lock:
            return sum(s.answer is not None for s in self.sent)

    def send(self, client: httpx.Client, sent: Sent) -> httpx.Response:
        """POST until answered with the same key; an answer of 5xx or a deadline is an error."""
        with self.lock:
            self.sent.append(sent)
        deadline = time.monotonic() + REQUEST_DEADLINE
        while time.monotonic() < deadline:
            sent.attempts += 1
            try:
                r = client.post(sent.url, json=sent.body, headers={"Idempotency-Key": sent.key})
            except httpx.TransportError:
                sent.cut_off += 1
                time.sleep(0.2)
                continue
            if r.status_code >= 500:
                raise AssertionError(f"{sent.url}: {r.status_code} {r.text}")
            sent.answer = r
            return r
        raise AssertionError(f"{sent.url} (key {sent.key}) not answered in {REQUEST_DEADLINE} s")

    def hang_up(self, sent: Sent) -> None:
        """Send `sent` whole and close the connection without reading the answer: the server
        commits the command, and its answer is lost on the way. Returns once the key is stored."""
        body = orjson.dumps(sent.body)
        head = (f"POST {sent.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                f"Idempotency-Key: {sent.key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=ATTEMPT_TIMEOUT) as sock:
            sock.sendall(head + body)
        sent.hung_up = True
        wait_for(f"key {sent.key} stored", lambda: keys.lookup(
            self.db, USER, sent.key, datetime.now(UTC) - timedelta(hours=1)), timeout=PHASE)

    def client(self, number: int) -> None:
        proc = catalog()[NUMBER]
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.base, headers=headers, timeout=ATTEMPT_TIMEOUT) as client:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    body = {"number": NUMBER, "applicant": self.tag, "channel": "in_person"}
                    create = Sent(f"c{number}-{n}", "/api/cases", body)
                    if n == 1:  # each client's first create: its answer is cut off
                        self.hang_up(create)
                    r = self.send(client, create)
                    assert r.status_code == 201, r.text
                    case = r.json()
                    step = 0
                    while case["tasks"] and not self.stop.is_set():
                        step += 1
                        task = case["tasks"][0]
                        url = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
                        r = self.send(client, Sent(f"c{number}-{n}-{step}", url,
                                                   {"data": task_data(proc, task)}, case["id"]))
                        assert r.status_code == 200, r.text
                        case = {**case, **r.json()}
        except Exception as exc:  # reported by the test, with the others
            with self.lock:
                self.errors.append(f"client {number}: {exc!r}")


class Processes:
    """`okno serve --workers 2` and `okno worker` on one database, started and killed at will."""

    def __init__(self, tmp_path: Path, database: str) -> None:
        self.tmp, self.database = tmp_path, database
        self.catalog = tmp_path / "catalog"  # the one procedure the load uses: a quick start
        self.catalog.mkdir()
        shutil.copy(CATALOG / f"{NUMBER}.yaml", self.catalog)
        (tmp_path / "authorities").mkdir()  # none: the shipped ones name other procedures
        self.env = {"OKNO_AUTHORITIES": str(tmp_path / "authorities")}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        self.worker_log = tmp_path / "worker.log"
        self.server = self.worker = None

    def start(self) -> None:
        self.server = okno_process(self.tmp, serve_args(self.port, self.database, self.catalog,
                                                        ["--workers", "2"]), self.log, self.env)
        wait_until_up(self.base, self.server, self.log, STARTUP)
        self.worker = okno_process(self.tmp, ["worker", "--interval", "0.2", "--database",
                                              self.database], self.worker_log, self.env)

    def kill_all(self) -> None:
        """SIGKILL to the server's process group (parent and workers) and the worker's."""
        for process in (self.server, self.worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def stop(self) -> None:
        for process in (self.server, self.worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except Exception:
                    os.killpg(process.pid, signal.SIGKILL)


def _sign_in(base: str) -> str:
    r = httpx.post(f"{base}/api/auth/token", data={"username": USER, "password": PASSWORD},
                   timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _workflow_agrees_with_task_rows(tmp_path: Path, database: str, case_ids: set[str]) -> list[str]:
    """Cases whose open task rows are not the ready tasks of their stored workflow state."""
    settings = Settings(database_url=database, audit_key_file=tmp_path / "var" / "audit.key",
                        audit_checkpoints=tmp_path / "var" / "audit-checkpoints")
    db = connect(database)
    try:
        engine = Cases(db, Versions(db, SystemClock(settings.timezone)), ledger=settings.audit_ledger())
        wrong = []
        with db.connect() as conn:
            open_rows = conn.execute(select(tasks.c.case_id, tasks.c.id).where(
                tasks.c.case_id.in_(case_ids), tasks.c.state == "open")).all()
        by_case: dict[str, set[str]] = {cid: set() for cid in case_ids}
        for cid, tid in open_rows:
            by_case[cid].add(tid)
        for cid in sorted(case_ids):
            with engine.unit_of_work("test") as uow:
                ready = set(ready_tasks(uow.cases.get(cid).workflow))
            if ready != by_case[cid]:
                wrong.append(f"{cid}: ready {sorted(ready)}, open rows {sorted(by_case[cid])}")
        return wrong
    finally:
        db.dispose()


def test_nothing_acknowledged_is_lost_or_doubled_when_processes_are_killed(tmp_path: Path,
                                                                           database_url: str) -> None:
    started = time.monotonic()
    procs = Processes(tmp_path, database_url)
    threads: list[threading.Thread] = []
    load: Load | None = None
    try:
        procs.start()
        db = connect(database_url)
        add_user(db, USER, PASSWORD, "supervisor", ORG)
        load = Load(procs.base, procs.port, _sign_in(procs.base), f"crash-{uuid.uuid4().hex[:8]}", db)
        threads = [threading.Thread(target=load.client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()

        # 1. one server worker dies mid-load; the other keeps answering
        wait_for("a first batch of answers", lambda: load.acknowledged() >= BATCH or load.errors, PHASE)
        victim = server_workers(procs.server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        mark = load.acknowledged()
        wait_for("answers after one worker died",
                 lambda: load.acknowledged() >= mark + BATCH or load.errors, PHASE)
        assert procs.server.poll() is None and not alive(victim)

        # 2. the whole server and the scheduler worker die mid-load; both start again
        procs.kill_all()
        mark = load.acknowledged()
        procs.start()
        wait_for("answers after the restart",
                 lambda: load.acknowledged() >= mark + BATCH or load.errors, PHASE)
        load.stop.set()
        for t in threads:
            t.join(timeout=REQUEST_DEADLINE + 10)
        assert not any(t.is_alive() for t in threads), "a client did not finish"
        assert load.errors == []

        sent = load.sent
        creates = [s for s in sent if s.url == "/api/cases"]
        completes = [s for s in sent if s.case_id is not None]
        cut_off = [s for s in sent if s.cut_off]
        assert len(creates) >= 3 and len(completes) >= BATCH and cut_off, (len(creates), len(cut_off))
        hung_up = [s for s in sent if s.hung_up]
        assert len(hung_up) == CLIENTS
        for s in hung_up:  # the command committed, its answer was lost: the retry replays it
            assert s.answer.status_code == 201 and s.answer.headers.get("idempotent-replayed") == "true"

        # every key replays its first answer, the cut-off ones included
        with httpx.Client(base_url=procs.base, timeout=30,
                          headers={"Authorization": f"Bearer {load.token}"}) as client:
            for s in sent:
                again = client.post(s.url, json=s.body, headers={"Idempotency-Key": s.key})
                assert again.headers.get("idempotent-replayed") == "true", (s.key, again.text)
                assert (again.status_code, again.content) == (s.answer.status_code, s.answer.content)
        case_ids = {orjson.loads(s.answer.content)["id"] for s in creates}
        assert len(case_ids) == len(creates)  # one case per create key

        with connect(database_url).connect() as conn:
            stored = set(conn.execute(select(cases.c.id).where(cases.c.applicant == load.tag)).scalars())
            assert stored == case_ids  # no case made twice, none lost
            done = dict(conn.execute(select(tasks.c.case_id, func.count()).where(
                tasks.c.case_id.in_(case_ids), tasks.c.state == "done").group_by(tasks.c.case_id)).all())
            completed = dict(conn.execute(select(events.c.case_id, func.count()).where(
                events.c.case_id.in_(case_ids), events.c.action == "complete",
                events.c.actor == USER).group_by(events.c.case_id)).all())
            versions = dict(conn.execute(select(cases.c.id, cases.c.row_version).where(
                cases.c.id.in_(case_ids))).all())
            n_events = dict(conn.execute(select(events.c.case_id, func.count()).where(
                events.c.case_id.in_(case_ids)).group_by(events.c.case_id)).all())
        acknowledged: dict[str, int] = {}
        for s in completes:
            acknowledged[s.case_id] = acknowledged.get(s.case_id, 0) + 1
        for cid in case_ids:  # each acknowledged step stored once, and nothing else
            assert (done.get(cid, 0), completed.get(cid, 0)) == (acknowledged.get(cid, 0),) * 2, cid
            assert versions[cid] == n_events[cid], cid

        assert _workflow_agrees_with_task_rows(tmp_path, database_url, case_ids) == []
        procs.stop()
        verify = okno_process(tmp_path, ["audit", "verify", "--database", database_url],
                              tmp_path / "verify.log")
        assert verify.wait(timeout=120) == 0, (tmp_path / "verify.log").read_text()
        report = (tmp_path / "verify.log").read_text()
        assert " 0 problem(s)" in report, report
        replayed = sum(s.answer.headers.get("idempotent-replayed") == "true" for s in cut_off)
        print(f"\ncrash test: {len(sent)} keyed requests ({len(creates)} creates), {len(cut_off)} "
              f"cut off by a kill, {replayed} of them answered by replay, {len(hung_up)} hung up "
              f"(all replayed), in {time.monotonic() - started:.1f} s")
    finally:
        if load is not None:
            load.stop.set()
        procs.kill_all()

"""HTTP API throughput and latency, against the engine's in-process rate measured in the same run.

Servers are started the way `okno serve` starts them, on 127.0.0.1 and a temporary SQLite
database; a load generator (asyncio, one process) runs CLIENTS concurrent clients for
SECONDS each (a minimal keep-alive HTTP/1.1 client: httpx's own CPU cost would
dominate on a small machine). Every client loops: register a case (POST /api/cases), complete its tasks one by one
on the approve path (POST .../complete, the supervisor's token for supervisor steps), and read
the clerk's work list (GET /api/tasks) after each case. Each client keeps to one server (as a
load balancer with affinity would), so the engine's live-case cache stays warm.

Scenarios:
- engine: the same loop in-process (`Cases.start` / `Cases.complete_task`), one thread: the ceiling;
- 1 uvicorn: `okno serve` (one process, one worker);
- 2 servers: two single-worker `okno serve` processes on one database, clients split between them;
- serve --workers 2: `okno serve --workers 2`, two single-worker processes on one port
  (SO_REUSEPORT: the kernel spreads connections over them);
- gunicorn -w 2: `okno serve --workers 2 --balancer gunicorn` (uvicorn workers, one socket);
- uvicorn --workers 2: for comparison (design notes report stalls with it).

Figures: task completions per second, requests per second, p50/p99 latency per request kind, and
completions as a share of the engine's in-process rate. The machine is shared and the load
generator competes with the servers for the same cores: compare ratios within one run.
Environment: OKNO_BENCH_SECONDS (default 15), OKNO_BENCH_CLIENTS (16), OKNO_BENCH_SCENARIOS
(comma-separated subset of: engine,one,two,reuseport,gunicorn,uvicorn2). With
OKNO_BENCH_DATABASE_URL (a PostgreSQL server, benchmarks/postgres.py) the scenarios one, two and
reuseport run a second time on a fresh PostgreSQL database each (okno_bench_api_<scenario>).
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from benchmarks import postgres

ROOT = Path(__file__).resolve().parent.parent
NUMBER = "1.1.5"  # the housing register: forms, a conditional step, a supervisor's decision
ORG = "bench-org"
SECRET = "bench-secret-" + "z" * 40
AUDIT_KEY = "bench-audit-key-" + "z" * 40  # never the default key file: nothing left in var/
SECONDS = float(os.environ.get("OKNO_BENCH_SECONDS", "15"))
CLIENTS = int(os.environ.get("OKNO_BENCH_CLIENTS", "16"))
LOG_DIR = Path(tempfile.gettempdir())
SCENARIOS = os.environ.get("OKNO_BENCH_SCENARIOS", "engine,one,two,reuseport,gunicorn,uvicorn2").split(",")


# ------------------------------------------------------------------------------------ set-up

def _ledger():
    from engine.audit.keys import Keyring
    from engine.audit.ledger import Ledger

    return Ledger(Keyring.of(AUDIT_KEY), None)


def _prepare(db_url: str) -> None:
    """Schema, catalog and the two bench users, before any server starts."""
    from api.deps import build_services
    from engine.accounts import add_user

    svc = build_services(db_url, secret=SECRET, ledger=_ledger())
    add_user(svc.db, "bclerk", "pw", "clerk", ORG)
    add_user(svc.db, "bsuper", "pw", "supervisor", ORG)
    svc.db.dispose()


def _forms() -> dict[str, dict]:
    """step id -> valid form data (decision steps approve)."""
    from engine.definition.validation import load_catalog
    from engine.runtime.forms import example_form

    proc = load_catalog(ROOT / "procedures")[NUMBER]
    forms = {s.id: example_form(s.fields) for s in proc.steps}
    for step in proc.steps:
        if step.kind == "decision":
            forms[step.id] = {**forms[step.id], "outcome": "approve"}
    return forms


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int


def _start(db_url: str, *args: str, port: int | None = None, uvicorn_workers: int = 0) -> Server:
    port = port or _free_port()
    env = {**os.environ, "OKNO_DATABASE_URL": db_url, "OKNO_SECRET_KEY": SECRET,
           "OKNO_AUDIT_KEY": AUDIT_KEY, "PYTHONWARNINGS": "ignore"}
    if uvicorn_workers:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(uvicorn_workers),
               "--no-access-log", "--log-level", "warning"]
    else:
        cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve",
               "--host", "127.0.0.1", "--port", str(port), *args]
    log = open(LOG_DIR / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return Server(process, port)
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop([Server(process, port)])
    raise RuntimeError("server did not start within 60 s")


def _stop(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGTERM)
    for server in servers:
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


# ------------------------------------------------------------------------------------ load

@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    completions: int = 0
    cases_done: int = 0


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx costs about a millisecond of CPU per request; on a small machine the load generator
    would then measure itself. This client only writes a request and reads a Content-Length body.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: bytes | None = None,
                      content_type: str = "application/json") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _token(port: int, user: str) -> dict[str, str]:
    conn = Connection(port)
    status, body = await conn.request("POST", "/api/auth/token", {},
                                      f"username={user}&password=pw".encode(),
                                      "application/x-www-form-urlencoded")
    conn.close()
    if status != 200:
        raise RuntimeError(f"sign-in failed: {status} {body[:200]!r}")
    return {"Authorization": f"Bearer {orjson.loads(body)['access_token']}"}


def _documents() -> list[str]:
    """The ids of the documents the citizen presents (recorded before intake, which waits for them)."""
    from engine.definition.validation import load_catalog

    return [d.id for d in load_catalog(ROOT / "procedures")[NUMBER].documents]


async def _client_loop(port: int, forms: dict, stats: Stats, stop_at: float,
                       tokens: tuple[dict, dict]) -> None:
    documents = _documents()
    conn = Connection(port)
    clerk, supervisor = tokens

    async def call(kind: str, method: str, url: str, headers: dict, body=None) -> dict | None:
        started = time.perf_counter()
        status, raw = await conn.request(method, url, headers,
                                         None if body is None else orjson.dumps(body))
        stats.latencies[kind].append(time.perf_counter() - started)
        if status >= 300:
            stats.errors[f"{kind} {status}"] += 1
            return None
        return orjson.loads(raw)

    try:
        while time.perf_counter() < stop_at:
            case = await call("create", "POST", "/api/cases", clerk,
                              {"number": NUMBER, "applicant": "ivan", "channel": "in_person"})
            if case is None:
                continue
            for doc in documents:  # intake waits for the documents the citizen presents
                await call("document", "POST", f"/api/cases/{case['id']}/documents/{doc}", clerk,
                           {"status": "presented"})
            tasks = case["tasks"]
            while tasks and time.perf_counter() < stop_at:
                task = tasks[0]
                who = supervisor if task["acts_as"] == "supervisor" else clerk
                result = await call("complete", "POST",
                                    f"/api/cases/{case['id']}/tasks/{task['id']}/complete", who,
                                    {"data": forms.get(task["step"], {})})
                if result is None:
                    break
                stats.completions += 1
                tasks = result["tasks"] if result["status"] == "open" else []
            stats.cases_done += 1
            await call("worklist", "GET", "/api/tasks?limit=20", clerk)
    finally:
        conn.close()


async def _load(ports: list[int], forms: dict, seconds: float, clients: int) -> tuple[Stats, float]:
    stats = Stats()
    tokens = (await _token(ports[0], "bclerk"), await _token(ports[0], "bsuper"))
    # warm-up: every server runs a few cases (imports, spec parsing, first connections)
    warm_stop = time.perf_counter() + 1.0
    await asyncio.gather(*(_client_loop(p, forms, Stats(), warm_stop, tokens) for p in ports))
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_client_loop(ports[i % len(ports)], forms, stats, stop_at, tokens)
                           for i in range(clients)))
    return stats, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def _report(name: str, stats: Stats, elapsed: float, engine_rate: float | None) -> dict:
    requests = sum(len(v) for v in stats.latencies.values())
    rate = stats.completions / elapsed
    line = (f"{name:<22} {rate:8.0f} completions/s {requests / elapsed:8.0f} req/s  "
            + "  ".join(f"{k} p50 {_pct(v, .5):5.1f} p99 {_pct(v, .99):6.1f} ms"
                        for k, v in sorted(stats.latencies.items())))
    if engine_rate:
        line += f"  ({rate / engine_rate:.0%} of in-process)"
    if stats.errors:
        line += f"  errors: {dict(stats.errors)}"
    print(line, flush=True)
    return {"rate": rate, "p99": _pct(stats.latencies["complete"], .99)}


# ------------------------------------------------------------------------------------ in-process

def engine_rate(tmp: Path, forms: dict, seconds: float) -> float:
    """Task completions per second of the same loop in-process (no HTTP), one thread."""
    from sqlalchemy import bindparam, select

    from api.deps import build_services
    from engine.store.tables import tasks

    svc = build_services(f"sqlite:///{tmp / 'engine.db'}", secret=SECRET, ledger=_ledger())
    query = select(tasks.c.id, tasks.c.step).where(tasks.c.case_id == bindparam("case_id"),
                                                   tasks.c.state == "open")

    documents = _documents()

    def open_tasks(case_id: str):
        with svc.db.connect() as conn:
            return conn.execute(query, {"case_id": case_id}).all()

    def run(stop_at: float) -> int:
        done = 0
        while time.perf_counter() < stop_at:
            case_id = svc.cases.start(NUMBER, applicant="ivan", channel="in_person",
                                      authority=ORG, actor="bclerk")
            for doc in documents:
                svc.cases.record_document(case_id, doc, "presented", actor="bclerk")
            pending = open_tasks(case_id)
            while pending:
                task_id, step = pending[0]
                svc.cases.complete_task(case_id, task_id, forms.get(step, {}), actor="bclerk")
                done += 1
                pending = open_tasks(case_id)
        return done

    run(time.perf_counter() + 1.0)  # warm-up
    started = time.perf_counter()
    done = run(started + seconds)
    rate = done / (time.perf_counter() - started)
    print(f"{'engine in-process':<22} {rate:8.0f} completions/s (one thread, no HTTP)", flush=True)
    svc.db.dispose()
    return rate


# ------------------------------------------------------------------------------------ main

def main() -> None:
    forms = _forms()
    print(f"{CLIENTS} clients, {SECONDS:.0f} s per scenario, procedure {NUMBER}, "
          f"{os.cpu_count()} CPU(s)", flush=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="okno-bench-api-") as folder:
        tmp = Path(folder)
        base = engine_rate(tmp, forms, min(SECONDS, 10)) if "engine" in SCENARIOS else None
        scenarios = {
            "one": ("1 uvicorn worker", lambda url: [_start(url)]),
            "two": ("2 servers, 1 db", lambda url: [_start(url), _start(url)]),
            "reuseport": ("serve --workers 2", lambda url: [_start(url, "--workers", "2")]),
            "gunicorn": ("gunicorn -w 2", lambda url: [_start(url, "--workers", "2",
                                                              "--balancer", "gunicorn")]),
            "uvicorn2": ("uvicorn --workers 2", lambda url: [_start(url, uvicorn_workers=2)]),
        }
        server = postgres.server_url()
        for key, (name, start) in list(scenarios.items()):
            if server is not None and key in ("one", "two", "reuseport"):
                scenarios[f"{key}-pg"] = (f"{name}, PostgreSQL", start)
        for key, (name, start) in scenarios.items():
            if key.removesuffix("-pg") not in SCENARIOS:
                continue
            url = (postgres.fresh_database(server, f"okno_bench_api_{key.removesuffix('-pg')}")
                   if key.endswith("-pg") else f"sqlite:///{tmp / f'{key}.db'}")
            _prepare(url)
            servers = start(url)
            try:
                stats, elapsed = asyncio.run(_load([s.port for s in servers], forms, SECONDS,
                                                   CLIENTS))
            finally:
                _stop(servers)
            results[key] = _report(name, stats, elapsed, base)
    two_process = {key: results[key] for key in ("two", "reuseport", "gunicorn", "two-pg", "reuseport-pg")
                   if key in results}
    if two_process:
        key, best = max(two_process.items(), key=lambda item: item[1]["rate"])
        verdict = "met" if best["rate"] >= 600 and best["p99"] < 100 else "NOT met"
        print(f"goal (>= 600 completions/s from two processes, p99 < 100 ms at {CLIENTS} "
              f"clients): {verdict} by {scenarios[key][0]!r}", flush=True)


if __name__ == "__main__":
    main()

"""Running the HTTP API: `okno serve` and `okno run` (the demo `make run` starts).

One process, one uvicorn worker, is the default. With `--workers N > 1` the server runs N
single-worker uvicorn processes sharing the port with SO_REUSEPORT (or, with `--balancer gunicorn`,
gunicorn with uvicorn workers): SQLite scales with processes, not threads
(benchmarks/bench_api.py). The catalog is published once by the parent before any worker starts,
so workers never race to publish it, and every worker runs on the settings the parent read.

Every process serves with the limits of api/limits.py (`uvicorn_options`): a deadline for a
request's headers, a cap on its connections (the parent raises the open files limit so they fit,
children inherit it), uvicorn's keep-alive time, and proxy headers believed only from the
`trusted_proxies` setting (uvicorn's own default believes 127.0.0.1, so that any local process,
or a proxy on the same machine passing the header through, could choose its client address).

Processes that outlive each other. A worker that dies (SIGKILL, the OOM killer, a crash) is
replaced and the other workers keep serving: a request lost with the dead worker is the client's
to retry (with its Idempotency-Key, safely), and no other is disturbed. A worker that keeps
dying is not replaced forever: after `CRASH_LOOP_DEATHS` deaths within `CRASH_LOOP_SECONDS` the
parent stops the others and exits with `EXIT_WORKERS_DIED` (3), so the supervisor (systemd,
the container runtime) sees a failure, restarts the whole server and, if that keeps failing,
stops and tells someone; before that each replacement waits longer (`restart_delay`), so a
worker failing at start does not spin the machine. Why not replace forever: a worker that dies
again and again fails for a reason outside it (the database, a full disk, memory), which a
restart of everything, a supervisor's back-off and an operator's alert handle better than a
hidden loop; and why not exit at the first death: the survivors are serving, and one killed
worker (one request with it) is no reason to drop every other connection. gunicorn's arbiter
replaces its workers itself, at once; the same crash-loop rule is its `child_exit` hook.

SIGTERM or SIGINT to the parent (or to a single-process server) stops it gracefully: every worker
stops accepting connections, requests in flight get `shutdown_grace_seconds` (default 30) to
finish, then the workers are stopped and the process exits 0. A worker outlives a dead parent
only until the kernel tells it (Linux: PR_SET_PDEATHSIG), so a killed server leaves no strays on
its port. Exit statuses: 0 stopped on request; 2 a setting okno cannot use (api.cli);
3 workers kept dying or could not start (uvicorn's and gunicorn's own code for a failed start);
anything else (1, or death by a signal) a failure of the parent itself.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterable
from multiprocessing.connection import wait
from typing import Any

import uvicorn
from pydantic import SecretStr

from api.app import create_app
from api.auth import load_secret
from api.deps import build_services
from api.limits import limited_protocol, open_files_for
from api.metrics import share_between_processes
from engine import accounts
from engine.notices.outbox import Outbox
from engine.runtime.scheduler import run_worker
from engine.settings import Settings

log = logging.getLogger("okno.serve")

CRASH_LOOP_DEATHS = 5  # worker deaths within CRASH_LOOP_SECONDS: the parent gives up
CRASH_LOOP_SECONDS = 60.0
EXIT_WORKERS_DIED = 3  # the server's workers kept dying (or could not start)

# DEMO ONLY: well-known passwords for trying okno out on one's own machine.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # name, password, role, org
    ("clerk", "clerk", "clerk", "minsk-sovetsky"),
    ("supervisor", "supervisor", "supervisor", "minsk-sovetsky"),
    ("clerk2", "clerk2", "clerk", "minsk-frunzensky"),
    ("applicant", "applicant", "applicant", "citizens"),
    ("auditor", "auditor", "auditor", "kgk"),
    ("analyst", "analyst", "analyst", "minjust"),
)


def ensure_demo_users(db: Any, users: Iterable[tuple[str, str, str, str]] = DEMO_USERS) -> list[str]:
    """Create the demo users that do not exist yet; returns the names created."""
    existing = {u.name for u in accounts.list_users(db)}
    created = []
    for name, password, role, org in users:
        if name not in existing:
            accounts.add_user(db, name, password, role, org)
            created.append(name)
    return created


def demo_banner(host: str, port: int) -> str:
    lines = ["", "=" * 72, "  okno demo — DEMO ONLY: these accounts have public passwords.",
             "  Do not use them anywhere real; create users with `okno user add`.", "",
             f"  {'user':<12}{'password':<12}{'role':<12}org"]
    for name, password, role, org in DEMO_USERS:
        lines.append(f"  {name:<12}{password:<12}{role:<12}{org}")
    lines += ["", f"  Pages:    http://{host}:{port}/ (sign in as clerk: the work list)",
              f"  API docs: http://{host}:{port}/docs", "=" * 72, ""]
    return "\n".join(lines)


def worker_settings(settings: Settings) -> Settings:
    """The settings every server process runs on: the parent's, with the signing key it read (or
    created in `secret_file`) once, so every worker signs and checks tokens with the same key."""
    return settings.model_copy(update={"secret_key": SecretStr(load_secret(settings))})


def with_open_files(settings: Settings) -> Settings:
    """`settings` with `max_connections` lowered to what the open files limit allows, after
    raising it for this process and the workers it starts (`open_files_for`)."""
    return settings.model_copy(update={"max_connections": open_files_for(settings.max_connections)})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every server process passes uvicorn (`uvicorn.Config`, the gunicorn worker)."""
    proxies = [str(network) for network in settings.trusted_proxies]
    return {"http": limited_protocol(settings.header_timeout_seconds, settings.max_connections),
            "timeout_keep_alive": settings.keep_alive_seconds,
            "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace_seconds),
            "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          access_log: bool = False, balancer: str = "reuseport") -> int:
    """Serve the API on `settings` until SIGTERM or SIGINT; returns the exit status (0 stopped
    on request, EXIT_WORKERS_DIED when workers kept dying: see the module docstring).

    One worker: one uvicorn process. More: `reuseport` starts N independent single-worker
    uvicorn processes, each listening on host:port with SO_REUSEPORT so the kernel spreads
    connections evenly over them; `gunicorn` runs gunicorn with N uvicorn workers sharing one
    socket (measured slower here: keep-alive connections pile up on whichever worker accepts
    first; see benchmarks/bench_api.py).

    The workers get the settings as an object, never through the environment or a file: a
    `reuseport` worker is started by multiprocessing's spawn, which sends its arguments over a
    pipe only parent and child hold; a gunicorn worker is forked and keeps the parent's memory.
    """
    if balancer not in BALANCERS:
        raise ValueError(f"balancer must be {' or '.join(BALANCERS)}, not {balancer!r}")
    settings = with_open_files(worker_settings(settings))
    build_services(settings=settings)  # schema and catalog once, before any worker starts
    if workers > 1:
        share_between_processes()  # GET /metrics on any worker: the sums over all (api.metrics)
    if workers <= 1:
        return _serve_one(settings, host, port, access_log, reuse_port=False)
    if balancer == "gunicorn":
        return _gunicorn(settings, host, port, workers, access_log)
    return Supervisor(settings, host, port, workers, access_log).run()


BALANCERS = ("reuseport", "gunicorn")


def _serve_one(settings: Settings, host: str, port: int, access_log: bool,
               reuse_port: bool) -> int:
    """One uvicorn server until SIGTERM or SIGINT: it stops accepting, lets requests in flight
    finish (`shutdown_grace_seconds`), and returns 0 (EXIT_WORKERS_DIED if it could not start)."""
    # The parent published the catalog before any worker started: workers only serve it.
    config = uvicorn.Config(functools.partial(create_app, settings=settings, publish=False), factory=True,
                            host=host, port=port, access_log=access_log, log_level="info",
                            **uvicorn_options(settings))
    server = uvicorn.Server(config)
    _exit_0_after_graceful_stop()
    try:
        if not reuse_port:
            server.run()
            return 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn's failed start
        return exc.code if isinstance(exc.code, int) else EXIT_WORKERS_DIED
    return 0


def _exit_0_after_graceful_stop() -> None:
    """uvicorn re-raises the signal it stopped on with the handler it found: make that a no-op,
    so the process ends with status 0 rather than dying of the signal once it stopped gracefully."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)


def _worker_main(settings: Settings, host: str, port: int, access_log: bool, parent: int) -> None:
    """A `reuseport` worker process: dies with its parent, serves, exits with `_serve_one`'s status."""
    _die_with_parent(parent)
    sys.exit(_serve_one(settings, host, port, access_log, reuse_port=True))


def _die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux), so no worker outlives a killed
    server on its port; elsewhere (or if the parent is gone already) nothing, or exit now."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            log.warning("cannot ask to be stopped with the parent (prctl)")
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(0)


def restart_delay(recent_deaths: int) -> float:
    """Seconds before replacing a dead worker, by the deaths within CRASH_LOOP_SECONDS: none for
    the first, then 0.5, 1, 2, … (at most 8)."""
    return 0.0 if recent_deaths <= 1 else min(0.5 * 2 ** (recent_deaths - 2), 8.0)


class CrashLoop:
    """Worker deaths within the last CRASH_LOOP_SECONDS (by a monotonic clock)."""

    def __init__(self, deaths: int = CRASH_LOOP_DEATHS, seconds: float = CRASH_LOOP_SECONDS,
                 clock=time.monotonic) -> None:
        self.limit, self.seconds, self.clock = deaths, seconds, clock
        self.times: deque[float] = deque()

    def died(self) -> int:
        """Count a death; returns the deaths within the window, this one included."""
        now = self.clock()
        self.times.append(now)
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        return len(self.times)

    def given_up(self) -> bool:
        return len(self.times) >= self.limit


class Supervisor:
    """The `reuseport` parent: N worker processes on one port, each replaced when it dies, all
    stopped gracefully on SIGTERM/SIGINT, the whole server given up in a crash loop."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, access_log: bool,
                 crash_loop: CrashLoop | None = None) -> None:
        self.args = (settings, host, port, access_log, os.getpid())
        self.grace = settings.shutdown_grace_seconds
        self.ctx = multiprocessing.get_context("spawn")
        self.slots: list[multiprocessing.process.BaseProcess | None] = [None] * workers
        self.due: dict[int, float] = {}  # slot -> when its replacement starts (monotonic)
        self.crash_loop = crash_loop or CrashLoop()
        self.stopping = threading.Event()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        for slot in range(len(self.slots)):
            self._start(slot)
        status = 0
        while not self.stopping.is_set():
            alive = [p.sentinel for p in self.slots if p is not None]
            wait(alive, timeout=0.2) if alive else self.stopping.wait(0.2)
            if self.stopping.is_set():
                break
            if not self._reap():
                status = EXIT_WORKERS_DIED
                break
            now = time.monotonic()
            for slot, at in list(self.due.items()):
                if at <= now:
                    del self.due[slot]
                    self._start(slot)
        self._stop_all()
        return status

    def _start(self, slot: int) -> None:
        process = self.ctx.Process(target=_worker_main, args=self.args, name=f"okno-serve-{slot}")
        process.start()
        self.slots[slot] = process
        log.info("worker %d started (pid %d)", slot, process.pid)

    def _reap(self) -> bool:
        """Schedule the replacement of each dead worker; False once the deaths make a crash loop."""
        for slot, process in enumerate(self.slots):
            if process is None or process.exitcode is None:
                continue
            process.join()
            self.slots[slot] = None
            recent = self.crash_loop.died()
            code = process.exitcode
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"
            if self.crash_loop.given_up():
                log.error("worker %d (pid %d) died (%s): %d deaths within %.0f s, giving up",
                          slot, process.pid, how, recent, self.crash_loop.seconds)
                return False
            delay = restart_delay(recent)
            log.error("worker %d (pid %d) died (%s); replacing it in %.1f s", slot, process.pid,
                      how, delay)
            self.due[slot] = time.monotonic() + delay
        return True

    def _stop_all(self) -> None:
        """SIGTERM to every worker (each stops accepting and finishes what is in flight within the
        grace period), then SIGKILL to any still running a few seconds after it."""
        running = [p for p in self.slots if p is not None and p.exitcode is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + self.grace + 5.0
        for process in running:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.error("worker pid %d still running after the grace period: killed", process.pid)
                process.kill()
                process.join(timeout=5)


def _gunicorn(settings: Settings, host: str, port: int, workers: int, access_log: bool) -> int:
    from gunicorn.app.base import BaseApplication
    from gunicorn.errors import HaltServer
    from uvicorn.workers import UvicornWorker

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="uvicorn.workers")
    crash_loop = CrashLoop()

    class _Worker(UvicornWorker):  # forked: the class and its options are the parent's memory
        CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, **uvicorn_options(settings)}

    def child_exit(arbiter, worker) -> None:
        """The arbiter replaces a dead worker itself (at once: it has no back-off, and this hook
        runs in its main loop, which must not sleep); a crash loop halts it (status 3)."""
        if not arbiter.LISTENERS:  # the arbiter is stopping: its workers exit on request
            return
        recent = crash_loop.died()
        if crash_loop.given_up():
            raise HaltServer(f"{recent} worker deaths within {crash_loop.seconds:.0f} s",
                             EXIT_WORKERS_DIED)

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", _Worker)
            self.cfg.set("graceful_timeout", math.ceil(settings.shutdown_grace_seconds))
            self.cfg.set("child_exit", child_exit)
            if access_log:
                self.cfg.set("accesslog", "-")

        def load(self):
            return create_app(settings=settings, publish=False)  # in the forked worker

    try:
        _App().run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def run_demo(settings: Settings, host: str = "127.0.0.1", port: int = 8000,
             worker_interval: float = 30.0) -> None:
    """What `make run` does: publish the catalog, create the demo users, start the scheduler
    loop in a background thread, and serve on host:port until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks at start are routine
    settings = with_open_files(settings)
    svc = build_services(settings=settings)
    created = ensure_demo_users(svc.db)
    if created:
        log.info("created demo users: %s", ", ".join(created))
    print(demo_banner(host, port), flush=True)
    app = create_app(services_=svc)
    stop = threading.Event()
    outbox = Outbox(svc.db, settings.smtp(), attempts=settings.notice_attempts)
    worker = threading.Thread(target=run_worker, name="okno-worker", daemon=True,
                              args=(svc.cases, worker_interval, stop,
                                    settings.idempotency_retention, outbox))
    worker.start()
    _exit_0_after_graceful_stop()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(settings))
    finally:
        stop.set()
        worker.join(timeout=5)

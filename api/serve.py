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
"""
from __future__ import annotations

import functools
import logging
import multiprocessing
import signal
import socket
import threading
import warnings
from collections.abc import Iterable
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
            "proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          access_log: bool = False, balancer: str = "reuseport") -> None:
    """Serve the API on `settings` until interrupted.

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
        _serve_one(settings, host, port, access_log, reuse_port=False)
    elif balancer == "gunicorn":
        _gunicorn(settings, host, port, workers, access_log)
    else:
        _reuseport(settings, host, port, workers, access_log)


BALANCERS = ("reuseport", "gunicorn")


def _serve_one(settings: Settings, host: str, port: int, access_log: bool,
               reuse_port: bool) -> None:
    # The parent published the catalog before any worker started: workers only serve it.
    config = uvicorn.Config(functools.partial(create_app, settings=settings, publish=False), factory=True,
                            host=host, port=port, access_log=access_log, log_level="info",
                            **uvicorn_options(settings))
    server = uvicorn.Server(config)
    if not reuse_port:
        server.run()
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    server.run(sockets=[sock])


def _reuseport(settings: Settings, host: str, port: int, workers: int, access_log: bool) -> None:
    """N single-worker processes on one port; stop them all when one stops or on a signal."""
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_serve_one, args=(settings, host, port, access_log, True),
                            name=f"okno-serve-{i}") for i in range(workers)]
    for child in children:
        child.start()
    stopping = threading.Event()

    def stop(_signum, _frame) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    while not stopping.is_set() and all(c.is_alive() for c in children):
        stopping.wait(0.5)
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: uvicorn shuts down gracefully
    for child in children:
        child.join(timeout=15)
        if child.is_alive():
            child.kill()


def _gunicorn(settings: Settings, host: str, port: int, workers: int, access_log: bool) -> None:
    from gunicorn.app.base import BaseApplication
    from uvicorn.workers import UvicornWorker

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="uvicorn.workers")

    class _Worker(UvicornWorker):  # forked: the class and its options are the parent's memory
        CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, **uvicorn_options(settings)}

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", _Worker)
            self.cfg.set("graceful_timeout", 10)
            if access_log:
                self.cfg.set("accesslog", "-")

        def load(self):
            return create_app(settings=settings, publish=False)  # in the forked worker

    _App().run()


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
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_options(settings))
    finally:
        stop.set()
        worker.join(timeout=5)

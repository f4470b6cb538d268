"""Running the HTTP API: `okno serve`, `okno run` (the demo `make run` starts) and user accounts.

One process, one uvicorn worker, is the default. With `--workers N > 1` the server runs N
single-worker uvicorn processes sharing the port with SO_REUSEPORT (or, with `--balancer gunicorn`,
gunicorn with uvicorn workers): SQLite scales with processes, not threads
(benchmarks/bench_api.py). The catalog is published once by the parent before any worker starts,
so workers never race to publish it.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from engine import accounts

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
    lines += ["", f"  API docs: http://{host}:{port}/docs", "=" * 72, ""]
    return "\n".join(lines)


def _prepare(database_url: str | None, catalog: str | None) -> None:
    """Create the schema and publish the catalog once, before any worker process starts."""
    from api.app import build_services

    build_services(database_url, catalog_path=catalog)


def _environment(database_url: str | None, catalog: str | None) -> None:
    if database_url:
        os.environ["OKNO_DATABASE_URL"] = database_url
    if catalog:
        os.environ["OKNO_CATALOG"] = catalog
    if not os.environ.get("OKNO_SECRET_KEY"):
        from api.auth import load_secret

        os.environ["OKNO_SECRET_KEY"] = load_secret()  # every worker signs with the same key


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          database_url: str | None = None, catalog: str | None = None,
          access_log: bool = False, balancer: str = "reuseport") -> None:
    """Serve the API until interrupted.

    One worker: one uvicorn process. More: `reuseport` starts N independent single-worker
    uvicorn processes, each listening on host:port with SO_REUSEPORT so the kernel spreads
    connections evenly over them; `gunicorn` runs gunicorn with N uvicorn workers sharing one
    socket (measured slower here: keep-alive connections pile up on whichever worker accepts
    first; see benchmarks/bench_api.py).
    """
    _environment(database_url, catalog)
    _prepare(database_url, catalog)
    if workers <= 1:
        _serve_one(host, port, access_log, reuse_port=False)
    elif balancer == "gunicorn":
        _gunicorn(host, port, workers, access_log)
    elif balancer == "reuseport":
        _reuseport(host, port, workers, access_log)
    else:
        raise ValueError(f"balancer must be reuseport or gunicorn, not {balancer!r}")


def _serve_one(host: str, port: int, access_log: bool, reuse_port: bool) -> None:
    import socket

    import uvicorn

    config = uvicorn.Config("api.app:app_from_env", factory=True, host=host, port=port,
                            access_log=access_log, log_level="info")
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


def _reuseport(host: str, port: int, workers: int, access_log: bool) -> None:
    """N single-worker processes on one port; stop them all when one stops or on a signal."""
    import multiprocessing
    import signal

    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_serve_one, args=(host, port, access_log, True),
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


def _gunicorn(host: str, port: int, workers: int, access_log: bool) -> None:
    from gunicorn.app.base import BaseApplication

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="uvicorn.workers")

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "uvicorn.workers.UvicornWorker")
            self.cfg.set("graceful_timeout", 10)
            if access_log:
                self.cfg.set("accesslog", "-")

        def load(self):
            from api.app import app_from_env

            return app_from_env()

    _App().run()


def run_demo(host: str = "127.0.0.1", port: int = 8000, worker_interval: float = 30.0) -> None:
    """What `make run` does: publish the catalog, create the demo users, start the scheduler
    loop in a background thread, and serve on host:port until interrupted."""
    import uvicorn

    from api.app import build_services, create_app
    from engine.runtime.scheduler import run_worker

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks at start are routine
    svc = build_services()
    created = ensure_demo_users(svc.db)
    if created:
        log.info("created demo users: %s", ", ".join(created))
    print(demo_banner(host, port), flush=True)
    app = create_app(services_=svc)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(svc.cases, worker_interval, stop),
                              name="okno-worker", daemon=True)
    worker.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        stop.set()
        worker.join(timeout=5)


def read_password(prompt: bool) -> str:
    """The new user's password: asked twice on a terminal, else the first line of stdin."""
    if prompt and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")

"""api/serve.py keeps serving when a worker dies, gives up in a crash loop, and stops gracefully;
`okno worker` stops on SIGTERM (engine.runtime.scheduler.stop_on_signals).

Real processes on loopback: `okno serve --workers 2` on a temporary SQLite file, its workers
found as the parent's children in /proc and killed with real signals. Every wait has a deadline.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.serve import CRASH_LOOP_DEATHS, EXIT_WORKERS_DIED, CrashLoop, restart_delay
from tests.serving import (
    Served,
    alive,
    free_port,
    okno_process,
    okno_serve,
    serve_args,
    server_workers,
    wait_for,
)

LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; SO_REUSEPORT")
GRACE = {"OKNO_SHUTDOWN_GRACE_SECONDS": "20"}


def _started(served: Served) -> int:
    """How many worker processes have finished starting so far (uvicorn logs it once each)."""
    return served.log.read_text(errors="replace").count("Application startup complete")


def _answers(served: Served, rounds: int = 20) -> list[int]:
    """Status codes of `rounds` requests, each on a fresh connection (SO_REUSEPORT and gunicorn
    hand fresh connections to any live worker)."""
    codes = []
    for _ in range(rounds):
        with httpx.Client(base_url=served.base, timeout=10) as client:
            codes.append(client.get("/api/me").status_code)
    return codes


def _kill_one_worker_and_see_it_replaced(served: Served) -> None:
    workers = wait_for("two workers", lambda: len(server_workers(served.process.pid)) == 2
                       and server_workers(served.process.pid))
    os.kill(workers[0], signal.SIGKILL)
    wait_for("the killed worker is gone", lambda: not alive(workers[0]), timeout=10)
    assert _answers(served) == [401] * 20  # the other worker answers every one (no token: 401)
    replaced = wait_for("a replacement worker", lambda: (
        set(now := server_workers(served.process.pid)) - set(workers) and len(now) == 2 and now))
    assert workers[1] in replaced and served.process.poll() is None
    wait_for("the replacement serves", lambda: _started(served) >= 3, timeout=60)
    assert _answers(served) == [401] * 20


def _sigterm_lets_the_request_in_flight_finish(served: Served) -> None:
    body = b"username=nobody&password=wrong"
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.5)  # the headers are in: the request is in flight, waiting for its body
        served.process.send_signal(signal.SIGTERM)

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", served.port), timeout=2).close()
            except OSError:
                return True
            return False

        wait_for("new connections are refused", refused, timeout=20)
        assert served.process.poll() is None  # still waiting for the request in flight
        sock.sendall(body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert served.process.wait(timeout=30) == 0


def _workers_that_keep_dying_stop_the_server(tmp_path: Path, args: list[str], says: str) -> None:
    """Kill every worker as soon as it appears, until the parent gives up."""
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    log = tmp_path / "serve.log"
    server = okno_process(tmp_path, serve_args(free_port(), f"sqlite:///{tmp_path / 'okno.db'}",
                                               catalog, ["--workers", "2", *args]), log)
    killed: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while server.poll() is None and time.monotonic() < deadline:
            for pid in set(server_workers(server.pid)) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.05)
        assert server.wait(timeout=5) == EXIT_WORKERS_DIED, log.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert len(killed) >= CRASH_LOOP_DEATHS
    assert says in log.read_text()
    wait_for("no worker left behind", lambda: not any(alive(p) for p in killed), timeout=10)


@LINUX_ONLY
class TestReuseport:
    def test_a_dead_worker_is_replaced_and_sigterm_finishes_requests_in_flight(self, tmp_path) -> None:
        with okno_serve(tmp_path, GRACE, args=["--workers", "2"]) as served:
            wait_for("both workers serve", lambda: _started(served) >= 2, timeout=120)
            _kill_one_worker_and_see_it_replaced(served)
            workers = server_workers(served.process.pid)
            _sigterm_lets_the_request_in_flight_finish(served)
            wait_for("the workers have exited", lambda: not any(alive(w) for w in workers))
        log = served.log.read_text(errors="replace")
        assert "died (signal SIGKILL); replacing it" in log

    def test_workers_that_keep_dying_stop_the_server_with_status_3(self, tmp_path) -> None:
        _workers_that_keep_dying_stop_the_server(tmp_path, [], "giving up")

    def test_a_killed_parent_leaves_no_worker_on_the_port(self, tmp_path) -> None:
        with okno_serve(tmp_path, args=["--workers", "2"]) as served:
            workers = wait_for("two workers", lambda: len(server_workers(served.process.pid)) == 2
                               and server_workers(served.process.pid))
            os.kill(served.process.pid, signal.SIGKILL)  # the parent only, not its group
            served.process.wait(timeout=10)
            wait_for("the workers follow their parent",
                     lambda: not any(alive(w) for w in workers), timeout=30)
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", served.port), timeout=2).close()


@LINUX_ONLY
class TestGunicorn:
    def test_a_dead_worker_is_replaced_and_sigterm_finishes_requests_in_flight(self, tmp_path) -> None:
        with okno_serve(tmp_path, GRACE, args=["--workers", "2", "--balancer", "gunicorn"]) as served:
            wait_for("both workers serve", lambda: _started(served) >= 2, timeout=60)
            _kill_one_worker_and_see_it_replaced(served)
            _sigterm_lets_the_request_in_flight_finish(served)

    def test_workers_that_keep_dying_stop_the_server_with_status_3(self, tmp_path) -> None:
        _workers_that_keep_dying_stop_the_server(tmp_path, ["--balancer", "gunicorn"],
                                                 f"{CRASH_LOOP_DEATHS} worker deaths within 60 s")


# ------------------------------------------------------------------------- the crash-loop rule

def test_deaths_count_within_the_window_only() -> None:
    now = [0.0]
    loop = CrashLoop(deaths=3, seconds=10, clock=lambda: now[0])
    assert [loop.died(), loop.given_up()] == [1, False]
    now[0] = 5
    assert loop.died() == 2 and not loop.given_up()
    now[0] = 10.5  # the first death is out of the window
    assert loop.died() == 2 and not loop.given_up()
    now[0] = 11
    assert loop.died() == 3 and loop.given_up()


def test_replacements_wait_longer_the_more_workers_died() -> None:
    assert [restart_delay(n) for n in range(1, 8)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


# ------------------------------------------------------------------------- okno worker

def test_the_scheduler_worker_stops_on_sigterm_with_status_0(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    worker = okno_process(tmp_path, ["worker", "--interval", "0.2", "--database",
                                     f"sqlite:///{tmp_path / 'okno.db'}"], log,
                          {"OKNO_AUDIT_CHECKPOINTS": str(tmp_path / "checkpoints")})
    try:
        wait_for("a round or two", lambda: worker.poll() is not None or (
            tmp_path / "checkpoints").exists() or "audit" in log.read_text(), timeout=60)
        time.sleep(0.5)
        assert worker.poll() is None, log.read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert "SIGTERM: stopping after the round in progress" in log.read_text()
    assert "worker stopped" in log.read_text()

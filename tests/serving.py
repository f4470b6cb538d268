"""Starting `okno serve` for a test: a real process on a loopback port, a temporary SQLite file
and an empty catalog (nothing to publish, so it starts in a few seconds).

Not a test module itself; tests/test_server_limits.py and tests/test_signin_limits.py use it.
"""
from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.db_support import url as db_url

STARTUP = 90.0  # seconds: the machine may be busy with other suites


@dataclass
class Served:
    base: str
    port: int
    process: subprocess.Popen
    log: Path

    def peak_memory(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_files_at_least(count: int) -> None:
    """Let this (test) process open `count` files, or skip the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


@contextmanager
def okno_serve(tmp_path: Path, env: dict[str, str] | None = None,
               open_files: int | None = None, args: tuple[str, ...] = ()) -> Iterator[Served]:
    """`okno serve` on `tmp_path/okno.db` with the `OKNO_*` variables of `env` only, and `args`
    (e.g. `--workers 2`); with `open_files`, the server starts with that soft limit of open
    files (as under systemd)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    environ.update({"OKNO_SECRET_FILE": str(tmp_path / "secret.key")}, **(env or {}))
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    port = free_port()
    log = tmp_path / "serve.log"
    limit: Callable[[], None] | None = None
    if open_files is not None:
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
             "--database", db_url(tmp_path / 'okno.db'), "--catalog", str(catalog), *args],
            cwd=tmp_path, env=environ, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=limit)
    served = Served(f"http://127.0.0.1:{port}", port, process, log)
    try:
        wait_until_up(served.base, process, log)
        yield served
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it has not exited within 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    """Until `okno serve` at `base` answers (its OpenAPI document); fails the test if it exits
    or does not answer within STARTUP seconds, with what it logged."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"okno serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"okno serve did not answer within {STARTUP} s:\n{log.read_text()}")


def connect_from(source: str, port: int, timeout: float = 30.0) -> socket.socket:
    """A connection to the server from the loopback address `source` (127.0.0.2, …)."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))

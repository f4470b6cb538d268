"""Starting `okno serve` for a test: a real process on a loopback port, a temporary SQLite file
and an empty catalog (nothing to publish, so it starts in a few seconds).

Not a test module itself; tests/test_server_limits.py, tests/test_signin_limits.py,
tests/test_serve_supervision.py and tests/test_crash.py use it.
"""
from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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


def okno_environment(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its `OKNO_*` variables, plus a secret file in
    `tmp_path` and the `OKNO_*` variables of `env`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OKNO_")}
    environ.update({"OKNO_SECRET_FILE": str(tmp_path / "secret.key")}, **(env or {}))
    return environ


def okno_process(tmp_path: Path, args: Sequence[str], log: Path, env: dict[str, str] | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen:
    """`okno ARGS` as a real process in a session (process group) of its own, in `tmp_path`,
    its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", *args],
            cwd=tmp_path, env=okno_environment(tmp_path, env), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec_fn)


def serve_args(port: int, database: str, catalog: Path, args: Sequence[str] = ()) -> list[str]:
    return ["serve", "--port", str(port), "--database", database, "--catalog", str(catalog), *args]


@contextmanager
def okno_serve(tmp_path: Path, env: dict[str, str] | None = None,
               open_files: int | None = None, args: Sequence[str] = (),
               database: str | None = None) -> Iterator[Served]:
    """`okno serve ARGS` on `database` (default: `tmp_path/okno.db`) with the `OKNO_*` variables
    of `env` only; with `open_files`, the server starts with that soft limit of open files (as
    under systemd)."""
    catalog = tmp_path / "catalog"
    catalog.mkdir(exist_ok=True)
    port = free_port()
    log = tmp_path / "serve.log"
    limit: Callable[[], None] | None = None
    if open_files is not None:
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    database = database or db_url(tmp_path / 'okno.db')
    process = okno_process(tmp_path, serve_args(port, database, catalog, args), log, env, limit)
    served = Served(f"http://127.0.0.1:{port}", port, process, log)
    try:
        wait_until_up(served.base, process, log)
        yield served
    finally:
        if process.poll() is None:
            stop(process)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def server_workers(pid: int) -> list[int]:
    """The worker processes of the `okno serve` parent `pid`: its children but multiprocessing's
    resource tracker (reuseport), or gunicorn's workers."""
    found = []
    for child in children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(what: str, condition: Callable[[], object], timeout: float = 30.0,
             every: float = 0.1) -> object:
    """Poll `condition` until it is true (returns its value); fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"not within {timeout} s: {what}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it has not exited within 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until_up(base: str, process: subprocess.Popen, log: Path, timeout: float = STARTUP) -> None:
    """Until `okno serve` at `base` answers (its OpenAPI document); fails the test if it exits
    or does not answer within `timeout` seconds, with what it logged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"okno serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"okno serve did not answer within {timeout} s:\n{log.read_text()}")


def connect_from(source: str, port: int, timeout: float = 30.0) -> socket.socket:
    """A connection to the server from the loopback address `source` (127.0.0.2, …)."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))

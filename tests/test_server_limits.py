"""`okno serve` keeps answering while clients hold connections open (api/serve.py, api/limits.py).

The probe of issue 14: 2,500 connections each send the headers and half the body of a sign-in
and then nothing. The server is a real `okno serve` process started with the soft limit of 1,024
open files a systemd service gets by default: before, it ran out of descriptors, stopped
accepting, and no other client was answered. Now it raises the limit to fit its connections,
answers others at once, and sends each slow client 408 after the body deadline (2 s here).
"""
from __future__ import annotations

import json
import logging
import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from api.limits import RESERVED_FILES, open_files_for
from api.serve import uvicorn_options
from engine.settings import Settings
from tests.serving import Served, connect_from, okno_serve, open_files_at_least

SLOW_CLIENTS = 2500
WAIT = 60.0  # the most the test waits for the server's answers


def _half_a_sign_in() -> bytes:
    body = b"username=clerk&password=correct+horse"
    return (b"POST /api/auth/token HTTP/1.1\r\nHost: okno\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % (2 * len(body))) + body


def _answers(conns: list[socket.socket], deadline: float) -> dict[int, bytes]:
    """What each connection received until the server closed it (by index)."""
    selector = selectors.DefaultSelector()
    received: dict[int, list[bytes]] = {}
    for i, conn in enumerate(conns):
        conn.setblocking(False)
        selector.register(conn, selectors.EVENT_READ, i)
        received[i] = []
    done: dict[int, bytes] = {}
    while len(done) < len(conns) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[i].append(chunk)
            else:
                selector.unregister(key.fileobj)
                done[i] = b"".join(received[i])
    selector.close()
    return done


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """One server for the module: starting one takes seconds."""
    open_files_at_least(SLOW_CLIENTS + 256)
    env = {"OKNO_BODY_TIMEOUT_SECONDS": "2"}  # the headers keep their 10 s: a busy machine
    with okno_serve(tmp_path_factory.mktemp("serve"), env, open_files=1024) as server:
        yield server


def test_the_server_answers_others_while_2500_clients_hold_half_a_body(served: Served) -> None:
    slow = []
    try:
        for _ in range(SLOW_CLIENTS):
            conn = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            conn.sendall(_half_a_sign_in())
            slow.append(conn)
        # Legitimate requests while every slow connection is still held open by its client.
        for _ in range(5):
            r = httpx.get(f"{served.base}/openapi.json", timeout=WAIT)
            assert r.status_code == 200
        answers = _answers(slow, time.monotonic() + WAIT)
    finally:
        for conn in slow:
            conn.close()
    assert len(answers) == SLOW_CLIENTS  # the server closed every one of them
    statuses = {data.split(b" ", 2)[1] for data in answers.values()}
    assert statuses == {b"408"}, statuses
    problem = json.loads(next(iter(answers.values())).partition(b"\r\n\r\n")[2])
    assert problem["status"] == 408 and problem["field"] == "body"


def test_a_body_over_the_limit_gets_413_from_the_server(served: Served) -> None:
    with connect_from("127.0.0.1", served.port) as conn:
        conn.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: okno\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % (1024 * 1024 + 1))
        data = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"application/problem+json" in head
    assert json.loads(body)["field"] == "body"
    r = httpx.post(f"{served.base}/api/auth/token", timeout=30,
                   data={"username": "nobody", "password": "x" * 100})
    assert r.status_code == 401  # a body under the limit is the application's


# ------------------------------------------------------------------------ proxies and files

class Echo:
    """An ASGI application answering with the client address it was given."""

    async def __call__(self, scope, receive, send) -> None:
        body = json.dumps(scope["client"][0]).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def serve_echo() -> Iterator:
    servers = []

    def start(settings: Settings) -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(Echo(), log_level="warning", lifespan="off",
                                               **uvicorn_options(settings)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return sock.getsockname()[1]

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def _client_seen(port: int, forwarded: str) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": forwarded},
                     timeout=10).json()


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(serve_echo, monkeypatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable does not count
    assert _client_seen(serve_echo(Settings()), "203.0.113.7") == "127.0.0.1"
    assert _client_seen(serve_echo(Settings(trusted_proxies="10.0.0.0/8")), "203.0.113.7") == "127.0.0.1"
    trusting = serve_echo(Settings(trusted_proxies="127.0.0.1"))
    assert _client_seen(trusting, "203.0.113.7") == "203.0.113.7"
    # the nearest address that is not a trusted proxy: a client cannot prepend its own choice
    assert _client_seen(trusting, "198.51.100.1, 203.0.113.7, 127.0.0.1") == "203.0.113.7"


def test_the_open_files_limit_is_raised_to_fit_the_connections() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1000 + RESERVED_FILES:
        pytest.skip(f"the hard limit of open files is {hard}")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
        assert open_files_for(10) == 10  # fits already: nothing changes
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (300, hard)
        assert open_files_for(1000) == 1000
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (1000 + RESERVED_FILES, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_fewer_connections_when_even_the_hard_limit_is_too_low(caplog) -> None:
    read, write = os.pipe()
    child = os.fork()  # a process cannot raise its hard limit again: lower it in a child only
    if child == 0:  # pragma: no cover - the child
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
            with caplog.at_level(logging.WARNING, logger="okno.serve"):
                fits = open_files_for(4096)
            os.write(write, json.dumps([fits, caplog.text]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as got:
        fits, logged = json.loads(got.read())
    os.waitpid(child, 0)
    assert fits == 512 - RESERVED_FILES
    assert "leaves room for 256 connections, not the 4096 of OKNO_MAX_CONNECTIONS" in logged

"""api/limits.py: what one client may hold of a server process.

A real uvicorn server on loopback (in a thread of the test process) runs the limited protocol and
`BodyLimits` around a small ASGI application that records what it was given; the clients are raw
sockets, so a test can stop halfway through a request. Deadlines are half a second; a test waits
for the server's answer, never for a time.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.limits import MAX_HEAD_BYTES, BodyLimits, limited_protocol

TIMEOUT = 0.5
MAX_BODY = 4096
MAX_CONNECTIONS = 8
WAIT = 15.0  # the most a test waits for an answer


class Recorder:
    """An ASGI application that answers 200 with the length of the body it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        message = await receive()
        assert message["more_body"] is False  # BodyLimits hands the body over whole
        self.bodies.append(message["body"])
        body = json.dumps({"length": len(message["body"])}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, Recorder]]:
    app = Recorder()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(BodyLimits(app, MAX_BODY, TIMEOUT), log_level="warning", lifespan="off",
                            http=limited_protocol(TIMEOUT, MAX_CONNECTIONS), timeout_keep_alive=5)
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not served.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.started
    yield sock.getsockname()[1], app
    served.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def _read_all(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _problem(data: bytes, status: int) -> dict:
    got, headers, body = _response(data)
    assert got == status, data
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == status and problem["detail"]
    return problem


def _post(path: str, body: bytes, length: int | None = None) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: "
            f"{len(body) if length is None else length}\r\n\r\n").encode() + body


def test_a_whole_request_reaches_the_application(server) -> None:
    port, app = server
    with _connect(port) as conn:
        conn.sendall(_post("/", b"x" * MAX_BODY))
        status, _headers, body = _response(conn.recv(65536))
        assert status == 200 and json.loads(body) == {"length": MAX_BODY}
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection is kept alive
        status, _headers, body = _response(conn.recv(65536))
        assert status == 200 and json.loads(body) == {"length": 0}
    assert app.bodies[-2:] == [b"x" * MAX_BODY, b""]


def test_a_chunked_body_is_joined_before_the_application_sees_it(server) -> None:
    port, app = server
    with _connect(port) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n")
        conn.sendall(b"2\r\nde\r\n0\r\n\r\n")
        status, _headers, body = _response(conn.recv(65536))
    assert status == 200 and json.loads(body) == {"length": 5} and app.bodies[-1] == b"abcde"


def test_a_connection_that_sends_nothing_is_closed(server) -> None:
    with _connect(server[0]) as conn:
        assert _read_all(conn) == b""


def test_headers_sent_too_slowly_close_the_connection(server) -> None:
    with _connect(server[0]) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert _read_all(conn) == b""


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(server) -> None:
    with _connect(server[0]) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(conn.recv(65536))[0] == 200
        conn.sendall(b"GET / HTTP/1.1\r\n")  # the second request stops after its first line
        assert _read_all(conn) == b""


def test_headers_larger_than_the_cap_get_431(server) -> None:
    with _connect(server[0]) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(MAX_HEAD_BYTES // len(line) + 2):
                conn.sendall(line)
        except OSError:  # closed while we were still sending: the answer is in our buffer
            pass
        problem = _problem(_read_all(conn), 431)
    assert problem["field"] == "headers"


def test_a_body_sent_too_slowly_gets_408(server) -> None:
    port, app = server
    before = len(app.bodies)
    with _connect(port) as conn:
        conn.sendall(_post("/", b"half", length=8))
        problem = _problem(_read_all(conn), 408)
    assert problem["field"] == "body" and problem["type"] == "urn:okno:problem:request-timeout"
    assert len(app.bodies) == before  # the application never waited on it


def test_a_declared_body_over_the_cap_gets_413_at_once(server) -> None:
    port, app = server
    before = len(app.bodies)
    with _connect(port) as conn:
        conn.sendall(_post("/", b"", length=MAX_BODY + 1))  # nothing of the body is sent
        problem = _problem(_read_all(conn), 413)
    assert problem["field"] == "body" and str(MAX_BODY) in problem["detail"]
    assert len(app.bodies) == before


def test_a_chunked_body_over_the_cap_gets_413(server) -> None:
    port, app = server
    before = len(app.bodies)
    chunk = b"%x\r\n" % 1024 + b"y" * 1024 + b"\r\n"
    with _connect(port) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.sendall(chunk * (MAX_BODY // 1024 + 1))
        _problem(_read_all(conn), 413)
    assert len(app.bodies) == before


def test_a_connection_over_the_cap_gets_503_and_a_later_one_is_served(server) -> None:
    port, _app = server
    held = [_connect(port) for _ in range(MAX_CONNECTIONS)]
    try:
        for conn in held:  # each is in the server's hands: it answers a request on it
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _response(conn.recv(65536))[0] == 200
        with _connect(port) as extra:
            problem = _problem(_read_all(extra), 503)
            assert "connections" in problem["detail"]
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + WAIT
    status = 0
    while status != 200 and time.monotonic() < deadline:  # the closes reach the server soon
        with _connect(port) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = conn.recv(65536)
        status = _response(data)[0] if data else 0
    assert status == 200

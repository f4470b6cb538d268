"""What one client may hold of a server process: connections, time to send a request, body size.

uvicorn bounds none of it by itself: a connection that sends half a request line, or half a
body, stays open forever, and every open connection takes a file descriptor until the process
can accept no more (then nobody is answered). Three parts close that:

- `limited_protocol` is uvicorn's httptools protocol with a deadline for the request line and
  headers (`header_timeout_seconds`, from the connection's start or a request's first byte), a
  cap on their size (`MAX_HEAD_BYTES`, else 431) and a cap on the connections a process holds
  (`max_connections`: one more is answered 503 and closed at once);
- `BodyLimits`, an ASGI wrapper, reads the whole body before the application sees it: it must
  arrive within `body_timeout_seconds` (else 408) and be at most `max_body_bytes` (else 413, at
  once when `Content-Length` says so). The application never waits on a slow client, so a
  thread-pool slot, a database connection or a password check is never held by one;
- `open_files_for` raises the process's soft limit of open files (up to the hard limit) so that
  `max_connections` fit, or lowers `max_connections` to what fits.

Every refusal is `application/problem+json` and closes the connection. api/serve.py puts the
protocol and the file limit in place; api/app.py wraps every application in `BodyLimits`.
"""
from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import PROBLEM, problem_body

log = logging.getLogger("okno.serve")

MAX_HEAD_BYTES = 64 * 1024  # request line and headers together; nginx allows 4 x 8 KiB by default
RESERVED_FILES = 256  # what a process opens besides connections: database, pool, logs, modules

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def problem_bytes(status: int, title: str, slug: str, detail: str, field: str | None = None,
                  retry_after: int | None = None) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of a problem answered on a connection that is then closed."""
    body = orjson.dumps(problem_body(status, detail, title=title, slug=slug, field=field))
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return headers, body


def _raw_response(status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}".encode()] + [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_BUSY = _raw_response(503, "Service Unavailable", *problem_bytes(
    503, "Service unavailable", "service-unavailable",
    "the server holds as many connections as it may; try again in a moment", retry_after=1))
_HEAD_TOO_LARGE = _raw_response(431, "Request Header Fields Too Large", *problem_bytes(
    431, "Request header fields too large", "header-fields-too-large",
    f"the request line and headers may take at most {MAX_HEAD_BYTES} bytes", field="headers"))


def limited_protocol(header_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, holding each connection to the deadline and caps above."""

    class LimitedProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0  # of the request whose headers are not complete yet
        _in_head = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(_BUSY)
                transport.close()
                return
            self._start_head()

        def _start_head(self) -> None:
            self._in_head, self._head_bytes = True, 0
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(header_timeout, self._head_timed_out)

        def _end_head(self) -> None:
            self._in_head = False
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.logger.info("closed a connection that sent no complete request headers "
                                 "within %s s", header_timeout)
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            if not self._in_head and (self.cycle is None or self.cycle.response_complete):
                self._start_head()  # the first bytes of the next request on a kept-alive connection
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self.transport.write(_HEAD_TOO_LARGE)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if not self._in_head:  # a pipelined request begins in the same bytes as the last
                self._start_head()

        def on_headers_complete(self) -> None:
            self._end_head()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._end_head()
            super().connection_lost(exc)

    return LimitedProtocol


class BodyLimits:
    """ASGI wrapper: the request body, read whole within `timeout` seconds and at most
    `max_bytes` long, before `app` runs; 408 or 413 problems otherwise."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int, timeout: float) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await _refuse(send, 408, "Request timeout", "request-timeout",
                          f"the request body did not arrive within {self.timeout:g} seconds")
            return
        except _TooLarge:
            await self._too_large(send)
            return
        if body is None:  # the client went away
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _refuse(send, 413, "Content too large", "content-too-large",
                      f"the request body may take at most {self.max_bytes} bytes")


class _TooLarge(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server has refused a malformed length already
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then waits as the server's does (for the
    client to go away)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(send: Send, status: int, title: str, slug: str, detail: str) -> None:
    headers, body = problem_bytes(status, title, slug, detail, field="body")
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def open_files_for(max_connections: int) -> int:
    """The connections this process can hold: `max_connections`, after raising the soft limit
    of open files up to the hard one so that they fit with `RESERVED_FILES`; fewer (with a
    warning) when even the hard limit is too low. Child processes inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit to %d: %s", new, exc)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fits = max(1, soft - RESERVED_FILES)
        log.warning("the open files limit (%d) leaves room for %d connections, not the %d of "
                    "OKNO_MAX_CONNECTIONS; raise it (ulimit -n, LimitNOFILE=)", soft, fits,
                    max_connections)
        return fits
    return max_connections

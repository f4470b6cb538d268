"""A real SMTP server on loopback for the notice tests: aiosmtpd in a thread, on a free port.

Not a test module itself. `SmtpServer` keeps every message it accepted (parsed) and can be told
to answer the next messages with a refusal (`refuse(n, "451 ...")`) at RCPT or at DATA; `stop()`
takes it down (a server that is down: connection refused) and `start()` brings it back on the
same port.
"""
from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        refusal = self.server.take_refusal("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        refusal = self.server.take_refusal("data")
        if refusal:
            return refusal
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=default)
        with self.server.lock:
            self.server.received.append((envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 OK: queued"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`, recording (mail from, recipients, message, raw bytes) per delivery."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.received: list[tuple[str, list[str], EmailMessage, bytes]] = []
        self._refusals: list[tuple[str, str]] = []  # (stage, answer), the next ones first
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, times: int, answer: str, stage: str = "data") -> None:
        """Answer the next `times` messages with `answer` (e.g. "451 4.3.0 Try again later") at
        `stage` (`rcpt` or `data`)."""
        with self.lock:
            self._refusals.extend([(stage, answer)] * times)

    def take_refusal(self, stage: str) -> str | None:
        with self.lock:
            if self._refusals and self._refusals[0][0] == stage:
                return self._refusals.pop(0)[1]
        return None

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _from, _to, message, _raw in self.received]

"""A notice as an e-mail message, and sending one over SMTP (smtplib).

`compose` builds the message: From the `smtp_from` setting, To the notice's address, the
notice's title as Subject (RFC 2047-encoded: Russian text), Date, and a Message-ID that is the same
for every attempt at the same notice (`message_id`), so a receiver that gets a notice twice (a
worker that crashed between sending and recording it, see engine/notices/outbox.py) can tell.
`send` speaks SMTP to the configured server (STARTTLS and login when set) and raises
`DeliveryError` with the server's answer or the network error; it never retries by itself.
"""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from engine.notices.drafts import check_address

MAX_ERROR = 1000  # characters of a server's answer kept as the outbox row's last error
DEFAULT_SENDER = "okno@localhost"
DEFAULT_PORT = 25
DEFAULT_TIMEOUT = 30.0  # seconds per network operation


class DeliveryError(Exception):
    """The server refused the message or could not be reached; the text says what it answered.
    `server_failed`: the failure is the server's, not this message's (it cannot be reached, its
    TLS or login failed, it refused the sender or closed the connection, it answered 421), so
    the next message would fail the same way."""

    def __init__(self, text: str, *, server_failed: bool) -> None:
        super().__init__(text)
        self.server_failed = server_failed


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where notices are sent from: the `smtp_*` settings."""

    host: str
    port: int = DEFAULT_PORT
    sender: str = DEFAULT_SENDER
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT


def message_id(notice_id: str, sender: str) -> str:
    """The Message-ID of a notice: stable across attempts, in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<notice-{notice_id}@{domain}>"


def compose(notice: Mapping[str, object], address: str, sender: str, at: datetime,
            msg_id: str) -> EmailMessage:
    """The message of `notice` (its `title` and `body`) to `address`, dated `at`."""
    check_address(address)
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = address
    message["Subject"] = " ".join(str(notice["title"]).split())  # one line, whatever was stored
    message["Date"] = format_datetime(at)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notice
    message.set_content(str(notice["body"]), charset="utf-8")
    return message


def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand `message` to the server of `config`; DeliveryError if it is not accepted for its
    one recipient."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.user:
                smtp.login(config.user, config.password or "")
            refused = smtp.send_message(message, from_addr=parseaddr(config.sender)[1])
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(_answers(exc.recipients), server_failed=False) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, login, 421
        mine = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code != 421
        raise DeliveryError(_answer(exc.smtp_code, exc.smtp_error), server_failed=not mine) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS, protocol
        raise DeliveryError(_bounded(f"{type(exc).__name__}: {exc}"), server_failed=True) from None
    if refused:  # one recipient only: never reached, kept for a message with more
        raise DeliveryError(_answers(refused), server_failed=False)


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _bounded(f"{code} {' '.join(text.split())}")


def _answers(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return _bounded("; ".join(f"{address}: {_answer(code, text)}"
                              for address, (code, text) in refused.items()))


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"

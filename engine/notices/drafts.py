"""A notice as a command records it, and the rendering of a definition's notice text.

A definition's notice text holds placeholders in braces (`{reg_number}`, `{due_date}`); the
command fills them from a fixed set of values it computed, never from an expression. An unknown
placeholder is an error the definition's validation reports; here it is rendered as it stands.

`draft` is what a command calls: the definition's notice by its id, rendered with the case's
values, addressed to the applicant's e-mail (checked here: it becomes an SMTP header) or to no one
(printed and handed over or posted). Everything is bounded: the title to `MAX_TITLE`, the body to
`MAX_TEXT` characters, however long the values are.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from engine.errors import InvalidInput

MAX_TEXT = 20_000  # characters of a rendered notice: a definition's text cannot grow without bound
MAX_TITLE = 300  # characters of a notice's title (the e-mail's Subject)
MAX_ADDRESS = 254  # RFC 5321: the longest forward path
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,63})\}")
# One mailbox, no display name: a local part and a domain of printable ASCII, no spaces, no
# brackets or quotes (what a header or an SMTP command could be split on).
ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*")


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """One notice a command generates: stored with the command's audit event, in one transaction."""

    kind: str  # the notice's id in the definition
    title: str
    body: str
    recipient: str | None = None  # e-mail address; None: printed and handed over or posted
    due_by: date | None = None  # the last day the law allows for sending it
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


class NoticeText(Protocol):
    """A notice of a definition: its id, its title and its text with placeholders."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...


class WithNotices(Protocol):
    """A definition that declares notices (a tuple of them, or a mapping by id)."""

    @property
    def notices(self) -> Sequence[NoticeText] | Mapping[str, NoticeText]: ...


def placeholders(text: str) -> list[str]:
    """The placeholder names a notice text uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def render(text: str, values: Mapping[str, object], limit: int = MAX_TEXT) -> str:
    """`text` with each `{name}` replaced by `values[name]` (as str); unknown names are kept.
    At most `limit` characters come out, and no more than that is ever built."""
    out: list[str] = []
    size, at = 0, 0
    text = text[:limit]
    for match in PLACEHOLDER.finditer(text):
        value = values.get(match.group(1))
        for piece in (text[at:match.start()], match.group(0) if value is None else str(value)):
            out.append(piece[:limit - size])
            size += len(out[-1])
        at = match.end()
        if size >= limit:
            return "".join(out)
    out.append(text[at:][:limit - size])
    return "".join(out)


def check_address(address: str) -> str:
    """`address` if it is one plain e-mail address; InvalidInput (field `email`) otherwise."""
    if len(address) > MAX_ADDRESS or not ADDRESS.fullmatch(address):
        raise InvalidInput("адрес электронной почты должен иметь вид имя@домен "
                           f"(не более {MAX_ADDRESS} символов)", field="email")
    return address


def notice_text(procedure: WithNotices, notice_id: str) -> NoticeText:
    """The definition's notice `notice_id`; KeyError if it declares none by that id (validation
    rejects a definition that names an undefined notice, so this is a defect of the caller)."""
    notices = procedure.notices
    if isinstance(notices, Mapping):
        return notices[notice_id]
    for notice in notices:
        if notice.id == notice_id:
            return notice
    raise KeyError(f"the definition declares no notice {notice_id!r}")


def draft(procedure: WithNotices, notice_id: str, values: Mapping[str, object],
          recipient: str | None = None, due_by: date | None = None) -> NoticeDraft:
    """The notice `notice_id` of the definition, rendered with `values`, for a command to append
    to `case.notices`; sent to `recipient` by the outbox when it is an address (checked)."""
    return draft_text(notice_text(procedure, notice_id), values, recipient, due_by)


def draft_text(text: NoticeText, values: Mapping[str, object], recipient: str | None = None,
               due_by: date | None = None) -> NoticeDraft:
    """The notice `text` (a definition's, or one the engine words itself) rendered with `values`."""
    title = " ".join(render(text.title, values, MAX_TITLE).split())  # one line: it is a Subject
    recipient = recipient.strip() if recipient else None
    return NoticeDraft(kind=text.id, title=title or text.id, body=render(text.text, values),
                       recipient=check_address(recipient) if recipient else None, due_by=due_by)

"""A notice as a command records it, and the rendering of a definition's notice text.

A definition's notice text holds placeholders in braces (`{reg_number}`, `{due_date}`); the
command fills them from a fixed set of values it computed, never from an expression. An unknown
placeholder is an error the definition's validation reports; here it is rendered as it stands.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

MAX_TEXT = 20_000  # characters of a rendered notice: a definition's text cannot grow without bound
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,63})\}")


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """One notice a command generates: stored with the command's audit event, in one transaction."""

    kind: str  # the notice's id in the definition
    title: str
    body: str
    recipient: str | None = None  # e-mail address; None: printed and handed over or posted
    due_by: date | None = None  # the last day the law allows for sending it
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def placeholders(text: str) -> list[str]:
    """The placeholder names a notice text uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def render(text: str, values: Mapping[str, object]) -> str:
    """`text` with each `{name}` replaced by `values[name]` (as str); unknown names are kept."""
    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else str(value)
    return PLACEHOLDER.sub(one, text[:MAX_TEXT])[:MAX_TEXT]

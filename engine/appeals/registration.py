"""The registration data of an appeal or a book entry, checked against its definition.

`POST /api/cases` carries them in `data` (docs/appeals.md): the kind and topic (ids from the
definition's lists), the text, whether the appeal is anonymous and whether it reports a crime,
and where the notices go (an e-mail address, a postal address). Everything is bounded; a bad
value is an `InvalidInput` naming its field (`data.kind`, …) and nothing is registered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.definition.procedure import Procedure
from engine.errors import InvalidInput

MAX_QUESTION = 10_000  # characters of an appeal's text
MAX_ADDRESS = 500
ANONYMOUS_APPLICANT = "аноним"
# A plain address: local part, one @, a dotted domain; no spaces or angle brackets (it goes into
# a mail header). Bounded by RFC 5321's 254 characters.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
FIELDS = frozenset({"kind", "topic", "question", "anonymous", "reports_crime", "email", "address"})


@dataclass(frozen=True, slots=True)
class Registration:
    """What an appeal is registered with: the columns of its case row, and the crime flag."""

    kind: str
    topic: str
    question: str
    anonymous: bool
    reports_crime: bool
    email: str | None
    address: str | None

    def columns(self) -> dict[str, Any]:
        return {"kind": self.kind, "topic": self.topic, "question": self.question,
                "anonymous": self.anonymous, "email": self.email, "address": self.address}


def registration(proc: Procedure, data: Any) -> Registration:
    """`data` checked against `proc`'s kinds and topics (InvalidInput naming the field)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{proc.number} is registered with data: kind, topic and question",
                           field="data")
    unknown = sorted(set(data) - FIELDS, key=str)
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r}; allowed: {sorted(FIELDS)}",
                           field=f"data.{unknown[0]}")
    kind = _choice(proc, "kinds", data.get("kind"), "data.kind")
    topic = _choice(proc, "topics", data.get("topic"), "data.topic")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip() or len(question) > MAX_QUESTION:
        raise InvalidInput(f"question (the appeal's text) must be 1 to {MAX_QUESTION} characters",
                           field="data.question")
    _no_controls(question, "data.question")
    flags = {}
    for name in ("anonymous", "reports_crime"):
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false", field=f"data.{name}")
        flags[name] = value
    if flags["reports_crime"] and not flags["anonymous"]:
        raise InvalidInput("reports_crime is for anonymous appeals only", field="data.reports_crime")
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or len(email) > 254
                              or not _EMAIL.fullmatch(email)):
        raise InvalidInput("email must be an e-mail address such as name@example.by",
                           field="data.email")
    address = data.get("address")
    if address is not None:
        if not isinstance(address, str) or not address.strip() or len(address) > MAX_ADDRESS:
            raise InvalidInput(f"address must be 1 to {MAX_ADDRESS} characters", field="data.address")
        _no_controls(address, "data.address")
    if flags["anonymous"] and (email is not None or address is not None):
        raise InvalidInput("an anonymous appeal has no e-mail or postal address",
                           field="data.email" if email is not None else "data.address")
    return Registration(kind, topic, question, flags["anonymous"], flags["reports_crime"],
                        email, address)


def _choice(proc: Procedure, pool: str, value: Any, field: str) -> str:
    ids = [c.id for c in getattr(proc, pool)]
    if value not in ids:
        raise InvalidInput(f"{field.removeprefix('data.')} must be one of {ids}", field=field)
    return value


def _no_controls(text: str, field: str) -> None:
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise InvalidInput("control characters are not allowed", field=field)

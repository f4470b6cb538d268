"""Errors the use cases raise; each face maps them to its own form (HTTP problem, CLI message).

The engine says what went wrong, not how a face reports it: HTTP statuses and titles are
`api.problems`' business (`ENGINE_ERRORS`).
"""
from __future__ import annotations

from typing import NamedTuple


class OknoError(Exception):
    """Base: a command was refused and nothing was changed."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(OknoError):
    """What the command names does not exist."""


class InvalidInput(OknoError):
    """The input is wrong; `field` names the part at fault."""


class FieldError(NamedTuple):
    """One field of a form at fault: `field` is its path (`data.<id>`), `title` the field's
    title from the definition, `message` what is wrong (Russian, for the clerk)."""

    field: str
    title: str
    message: str

    @property
    def detail(self) -> str:
        return f"{self.title}: {self.message}"


class InvalidForm(InvalidInput):
    """Form data with one or more fields at fault: every one of them, in `errors`."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        if not errors:
            raise ValueError("an InvalidForm names at least one field")
        self.errors = tuple(errors)
        super().__init__("; ".join(e.detail for e in self.errors), field=self.errors[0].field)


class NotAllowed(OknoError):
    """The command does not fit the case's current state (or the law forbids it)."""


class DocumentsOutstanding(NotAllowed):
    """The decision waits for requested documents: every one outstanding, in `errors`."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("решение ожидает истребованные документы: "
                         + "; ".join(e.title for e in self.errors), field=self.errors[0].field)


class DocumentsMissing(NotAllowed):
    """Intake cannot complete: every document the citizen must present and that is not recorded
    yet, in `errors` (the title from the definition; the message says how to record it)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("приём заявления не завершён: не отмечены документы: "
                         + "; ".join(e.title for e in self.errors), field=self.errors[0].field)


class Conflict(OknoError):
    """Another command changed the case first; reload and retry."""


class Forbidden(OknoError):
    """The caller may not do this."""

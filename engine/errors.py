"""Errors the use cases raise; each face maps them to its own form (HTTP problem, CLI message)."""
from __future__ import annotations


class OknoError(Exception):
    """Base: a command was refused and nothing was changed."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(OknoError):
    status = 404
    title = "Not found"


class InvalidInput(OknoError):
    """The input is wrong; `field` names the part at fault."""

    status = 422
    title = "Invalid input"


class NotAllowed(OknoError):
    """The command does not fit the case's current state (or the law forbids it)."""

    status = 409
    title = "Not allowed in the current state"


class Conflict(OknoError):
    """Another command changed the case first; reload and retry."""

    status = 409
    title = "Conflict"


class Forbidden(OknoError):
    status = 403
    title = "Forbidden"

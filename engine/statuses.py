"""The words stored in status columns, shared by the runtime that writes them and the queries that
filter by them. StrEnum members are plain strings: they compare equal to, and are stored as, the text.
"""
from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"  # the term stops running until the case is resumed
    COMPLETED = "completed"  # the workflow reached its end (approved or refused)
    WITHDRAWN = "withdrawn"  # by the applicant, before the procedure ended
    NOT_ACCEPTED = "not_accepted"  # the application was refused at intake (Law No. 433-З)
    CLOSED = "closed"  # archived after it ended


ACTIVE = frozenset({CaseStatus.OPEN, CaseStatus.SUSPENDED})
ENDED = frozenset({CaseStatus.COMPLETED, CaseStatus.WITHDRAWN, CaseStatus.NOT_ACCEPTED})


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class DocumentStatus(StrEnum):
    PRESENTED = "presented"  # by the citizen
    REQUESTED = "requested"  # by the authority from another body
    RECEIVED = "received"  # the requested document arrived


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waits for its next attempt (`next_attempt_at`); `last_error` if one failed
    SENDING = "sending"  # claimed by a worker until its lease (`next_attempt_at`) runs out
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # every attempt allowed failed: an operator retries it or sends it otherwise

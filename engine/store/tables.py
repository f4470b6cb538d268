"""Every table of okno, in one metadata (SQLAlchemy Core, portable SQL: SQLite and PostgreSQL).

Layout, chosen after measuring (see docs/engine.md):
- `cases` holds one row per case with the workflow state as one JSON document *without* its spec
  (the spec is parsed once per procedure version and kept in memory), plus the columns the
  queries need (status, authority, due date) and `row_version` for optimistic concurrency;
- `tasks` is the side table clerks query (role, assignee, authority, state, due date), written in
  the same transaction as the case, so work lists never load a workflow;
- `timers` holds due times of waiting timer events, so the worker finds due work by an index;
- `events` is the append-only audit log (global order, keyed chain per case, the effects of each
  command); `audit_ledger` marks where the old unkeyed chains end; `case_documents` the
  checklist state.
- `users` and `idempotency` hold the accounts and the remembered answers to retried commands;
  `saved_filters` each user's named work-list filters; `notices` and `outbox` the notices
  a case's commands generated and their delivery; `reg_counters` the registration numbers given;
  `ratings` the applicants' quality grades of their ended cases (engine/ratings/).
- `signin_attempts` holds the failed sign-ins every server process counts against;
  `worker_sweeps` when each scheduler worker last swept.
- `correspondence_terminations`, `public_answers` (+ `public_answer_cases`) and
  `applicant_profiles`: what engine/appeal_registers and the applicant's cabinet keep beside the cases.
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()
# The reports' covering index (engine.reports.figures): the scope, then the columns they group
# by in that order (so grouping walks the index), then what they compare.
REPORT_INDEX = ("type", "authority", "channel", "kind", "topic", "number", "outcome", "ground",
                "status", "start_date", "due_date", "closed_at")

procedure_versions = Table(
    "procedure_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("number", String(32), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("definition", Text, nullable=False),
    Column("bpmn_xml", Text),
    # The BPMN compiled from `steps` when the version was published: cases run this text, not
    # what the current compiler makes of the definition. NULL for a drawn BPMN (`bpmn_xml` is it).
    Column("compiled_xml", Text),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("seq", Integer, nullable=False),  # load order: the newest version of a number wins
)

# One row per publication through the API or `okno publish` (engine/publication): who, when,
# which procedures became which versions, the diff summary and the burden increases confirmed.
# It is the publication's audit event, written in the transaction that stores the versions.
publications = Table(
    "publications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("versions", Text, nullable=False),  # JSON {number: version}
    Column("summary", Text, nullable=False),  # JSON {"burden": n, "simplification": n, "neutral": n}
    Column("confirmed", Text, nullable=False),  # JSON [number, ...]: burden increases confirmed
    Column("digest", String(64), nullable=False),  # SHA-256 of the row's data (engine.audit.chain.digest)
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(32), nullable=False),
    Column("version", String(64), ForeignKey("procedure_versions.version"), nullable=False),
    # What the definition runs: an administrative procedure (Law 433-З), a citizen's appeal
    # (Law 300-З) or an entry in the book of remarks and suggestions. Set from the definition.
    Column("type", String(16), nullable=False, server_default="procedure"),
    # The registration number given on the day of receipt (unique), and for appeals their kind
    # (statement, proposal, complaint) and topic (the definition's list of subject categories).
    # `{authority}-{yyyy}-{nnnnnn}` from `reg_counters`, in the start command's transaction.
    Column("reg_number", String(96)),
    Column("kind", String(16)),
    Column("topic", String(64)),
    # An appeal's text, where its notices go (e-mail; a postal address for printed ones), and
    # whether it is anonymous (docs/appeals.md).
    Column("question", Text),
    Column("email", String(254)),
    Column("address", String(500)),
    Column("anonymous", Boolean, nullable=False, default=False, server_default="0"),
    # The extension of the term applied last (the definition's term.extensions id).
    Column("extension", String(64)),
    # Forwarded to the competent authority: the authority it was registered at first, and the
    # day it was forwarded (the term counts again from that day).
    Column("forwarded_from", String(128)),
    Column("forwarded_on", Date),
    Column("status", String(16), nullable=False),
    Column("outcome", String(32)),
    Column("ground", String(64)),
    Column("applicant", String(128), nullable=False),  # as the application names them
    # The applicant's okno account, when they have one: the only link that lets an applicant see
    # a case (a name typed by a clerk never does, whatever user it happens to match).
    Column("applicant_user", String(128)),
    Column("channel", String(16), nullable=False),
    Column("authority", String(128), nullable=False),
    Column("category", String(64)),
    # The service option chosen at intake (the definition's `options` id): its term and fee are
    # the case's. None: the procedure has no options.
    Column("option", String(64)),
    Column("exempt", Boolean, nullable=False, default=False),
    Column("fee", Float, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("documents_requested", Boolean, nullable=False, default=False),
    Column("suspended_on", Date),
    # Calendar days the case was suspended since its term started counting: the due date is the
    # legal term's last day moved by them (kept so that a later extension keeps the pauses).
    Column("paused_days", Integer, nullable=False, default=0, server_default="0"),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("row_version", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("state", LargeBinary, nullable=False),
    # Which layout restores `state` (okno's format) and the SpiffWorkflow serializer format it was
    # written in: read on every restore, so a stored case can be migrated (store.workflow_state).
    Column("state_format", String(32), nullable=False),
    Column("spiff_version", String(16), nullable=False, server_default="1.5"),
    # Case lists come newest first, a page at a time: each list has an index in that order, so a
    # page is an index range, not a sort of every case of the authority (measured with 200,000
    # cases: 290 ms -> 20 ms, most of it the total count). The step path never writes these
    # columns, so the indexes cost nothing per step.
    Index("ix_cases_started", "started_at", "id"),
    Index("ix_cases_authority_started", "authority", "started_at", "id"),
    Index("ix_cases_authority_status", "authority", "status", "started_at", "id"),
    Index("ix_cases_authority_overdue", "authority", "overdue", "started_at", "id"),
    Index("ix_cases_applicant", "applicant"),
    Index("ix_cases_applicant_user", "applicant_user"),
    Index("ix_cases_open_due", "status", "overdue", "due_date"),
    Index("ix_cases_number", "number"),
    # The supervisor's dashboard (engine.read.dashboard): overdue open cases and the load by
    # procedure from the index alone; decisions by month of closing.
    Index("ix_cases_authority_status_due", "authority", "status", "due_date", "number"),
    Index("ix_cases_authority_closed", "authority", "closed_at"),
    Index("ux_cases_reg_number", "reg_number", unique=True),
    Index("ix_cases_type_authority_started", "type", "authority", "started_at"),
    # Reports (engine.reports.figures): one authority's cases of one type, grouped in the
    # index's order, with every column the figures read, so they read this index alone.
    Index("ix_cases_report", *REPORT_INDEX),
    # Repeated appeals of an applicant without an account are found by their e-mail
    # (engine/appeal_registers/repeats.py); those with one by ix_cases_applicant_user.
    Index("ix_cases_authority_email", "authority", "email"),
)

# The last registration number given per authority and year: `INSERT … ON CONFLICT DO UPDATE SET
# last = last + 1 RETURNING last` in the start command's transaction (engine/store/case_rows.py).
reg_counters = Table(
    "reg_counters",
    metadata,
    Column("authority", String(128), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("step", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("role", String(64), nullable=False),
    Column("acts_as", String(16), nullable=False),
    Column("authority", String(128), nullable=False),
    Column("state", String(16), nullable=False),  # open, done, cancelled
    Column("assignee", String(128)),
    Column("due_date", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(128)),
    Index("ix_tasks_worklist", "authority", "acts_as", "state", "due_date"),
    Index("ix_tasks_assignee", "assignee", "state"),
    Index("ix_tasks_authority_state", "authority", "state", "assignee", "due_date"),  # dashboard
    # A work list of both kinds of performer (a supervisor's, the overdue tasks) in its own order:
    # a page is an index range cut at its size, not a sort of every open task (migration 0017).
    Index("ix_tasks_open_due", "authority", "state", "due_date", "created_at", "id"),
)

timers = Table(
    "timers",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("task_id", String(36), primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
)

# Drawn service tasks waiting for a worker (engine.bpmn.external), written with the case's rows.
external_tasks = Table(
    "external_tasks",
    metadata,
    Column("id", String(36), primary_key=True),  # the workflow task id
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("topic", String(128), nullable=False),
    Column("step", String(128), nullable=False),
    Column("worker_id", String(128)),
    Column("lock_expires_at", DateTime(timezone=True)),
    Column("retries", Integer),
    Column("error_message", Text),
    Column("incident", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_external_tasks_fetch", "topic", "incident", "lock_expires_at"),
)

events = Table(
    "events",
    metadata,
    # The audit log: one row per command, in one global order (`gseq`, assigned by the database
    # on insert, so a step reads no counter) and chained per case (`seq`, `prev_hash`, `hash`).
    # `hash` is an HMAC under the audit key named by `key_id` (NULL: written before migration
    # 0009 under the old plain SHA-256 formula; allowed only up to `audit_ledger.legacy_through`).
    # `effects` is what the command wrote to the case's rows, so `okno audit verify` can
    # recompute the case's stored facts from its events (engine/audit/facts.py).
    Column("gseq", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("step", String(64)),
    Column("data", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("effects", Text),
    Column("key_id", String(16)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ux_events_case_seq", "case_id", "seq", unique=True),
)

# One row: the newest event written under the old formula when migration 0009 ran (0 on a
# database created later). Every signed checkpoint repeats it, so raising it is caught.
audit_ledger = Table(
    "audit_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("legacy_through", Integer, nullable=False),
)

case_documents = Table(
    "case_documents",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("document", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # presented, requested, received
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
)


# Notices are documents (Law 300-З, Law 433-З): generated from the definition's notice texts and
# the case by the command that requires them, stored in the same transaction as its audit event,
# printable, and delivered by the worker through `outbox` (engine/notices/).
notices = Table(
    "notices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(64), nullable=False),  # the id of the notice in the definition
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("recipient", String(254)),  # the e-mail address it goes to, when the applicant gave one
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_by", Date),  # the last day the law allows for sending it
)

# One row per notice to deliver: claimed by a worker, retried with back-off, sent once.
# `status`: pending (waiting, perhaps after a failed attempt: `last_error`), sending (claimed),
# sent, failed (after the last attempt allowed; `okno notices retry` sets it pending again).
outbox = Table(
    "outbox",
    metadata,
    Column("notice_id", String(36), ForeignKey("notices.id"), primary_key=True),
    Column("address", String(254), nullable=False),
    Column("status", String(16), nullable=False),  # pending, sending, sent, failed
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("message_id", String(255)),
    # The token of the worker sending it (status `sending`, until `next_attempt_at`: its lease);
    # only that worker may record the outcome (engine/notices/outbox.py).
    Column("claim", String(36)),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)


# Quality ratings (Council of Ministers resolution No. 765; engine/ratings/): the applicant of an
# ended case grades it once, 1-5 on each of the rating portal's four criteria. The case's
# authority, procedure number and type are copied at grading time, so the registers and reports
# aggregate ratings by an index of their own instead of joining every case.
RATING_CRITERIA = ("simplicity", "information", "term", "politeness")
ratings = Table(
    "ratings",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),  # once per case
    Column("applicant_user", String(128), nullable=False),
    Column("authority", String(128), nullable=False),
    Column("number", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    *(Column(c, Integer, nullable=False) for c in RATING_CRITERIA),
    Column("comment", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    *(CheckConstraint(f"{c} BETWEEN 1 AND 5", name=f"ck_ratings_{c}") for c in RATING_CRITERIA),
    Index("ix_ratings_authority_created", "authority", "created_at"),
    Index("ix_ratings_number_created", "number", "created_at"),
)


users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("org", String(128), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),  # set while the account is disabled
    Column("credentials_changed_at", DateTime(timezone=True)),  # older tokens are refused
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("user", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("route", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),  # 0 while the first request is still running
    Column("response_body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),  # expiry sweeps
)

# A user's named work-list filters (the clerk's desk): the filter is kept as the query string
# the desk understands, so a saved filter is a link. Bounded per user by engine.saved_filters.
saved_filters = Table(
    "saved_filters",
    metadata,
    Column("user", String(128), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("query", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Failed sign-ins per counter (engine.signin_throttle): a user name from one address, a name from
# every address, one address whatever the names. One row per counter and window: `failures`
# since the window began, which ends at `expires_at` (epoch seconds, wall-clock). Shared by every
# server process; the worker deletes expired rows, and each sign-in deletes a few.
signin_attempts = Table(
    "signin_attempts",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# When each scheduler worker (`okno worker`, named host:pid) last finished a sweep: the worker
# lag that GET /metrics reports. Rows of workers not seen for a week are deleted by the others.
worker_sweeps = Table(
    "worker_sweeps",
    metadata,
    Column("worker", String(128), primary_key=True),
    Column("swept_at", DateTime(timezone=True), nullable=False),
)

# Termination of correspondence (Law 300-З): a supervisor of an authority decided that it answers
# no more appeals of this applicant on this question; later ones are left without consideration
# (engine/appeal_registers/correspondence.py). Who, when, the applicant as the appeal named them, the
# authority, the question (the appeal's text) and the ground the supervisor gave.
correspondence_terminations = Table(
    "correspondence_terminations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("authority", String(128), nullable=False),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),  # decided on it
    Column("applicant", String(128), nullable=False),
    Column("applicant_user", String(128)),
    Column("email", String(254)),
    Column("question", Text, nullable=False),
    Column("ground", Text, nullable=False),
    Column("decided_by", String(128), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_terminations_authority_user", "authority", "applicant_user"),
    Index("ix_terminations_authority_email", "authority", "email"),
    Index("ux_terminations_case", "case_id", unique=True),
)

# An answer published for more than ten identical appeals (Law 300-З): no personal data, only
# the question as the authority words it and its answer; `public_answer_cases` the group.
public_answers = Table(
    "public_answers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("authority", String(128), nullable=False),
    Column("topic", String(64)),
    Column("title", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("appeals", Integer, nullable=False),  # how many appeals it answers
    Column("published_by", String(128), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Index("ix_public_answers_authority", "authority", "published_at"),
    Index("ix_public_answers_published", "published_at"),
)

public_answer_cases = Table(
    "public_answer_cases",
    metadata,
    Column("answer_id", String(36), ForeignKey("public_answers.id"), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Index("ix_public_answer_cases_case", "case_id"),
)

# What an applicant gave when signing up beyond the account: the e-mail their appeals' notices go
# to by default (the cabinet fills it into the appeal form).
applicant_profiles = Table(
    "applicant_profiles",
    metadata,
    Column("name", String(128), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("email", String(254)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

"""audit ledger: a global order of events, keyed hashes, effects; the legacy point

The audit log becomes one log in one global order: `events.gseq`, assigned by the database on
insert (the primary key; `(case_id, seq)` stays unique). Existing events are numbered by time,
case and sequence. New events carry `key_id` (the audit key their HMAC is under) and `effects`
(what their command wrote), both NULL for the events already there.

The existing chains are not rekeyed: a migration runs inside `connect`, which holds no audit key
(and should not: the key is kept outside the database). They stay under the old formula and the
point is marked: `audit_ledger.legacy_through` is the newest of them; `okno audit verify` checks
events up to it under the old formula and every later one keyed; the first checkpoint after the
migration seals their cases (engine/audit/legacy.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_OLD = ("case_id", "seq", "at", "actor", "action", "step", "data", "digest", "prev_hash", "hash")


def _event_columns() -> list[sa.Column]:
    return [
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('step', sa.String(length=64), nullable=True),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'events_0009',
        sa.Column('gseq', sa.Integer(), autoincrement=True, nullable=False),
        *_event_columns(),
        sa.Column('effects', sa.Text(), nullable=True),
        sa.Column('key_id', sa.String(length=16), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('gseq'),
    )
    columns = ", ".join(_OLD)
    op.execute(f"INSERT INTO events_0009 (gseq, {columns}) "
               f"SELECT ROW_NUMBER() OVER (ORDER BY at, case_id, seq), {columns} FROM events")
    op.drop_table('events')
    op.rename_table('events_0009', 'events')
    op.create_index('ux_events_case_seq', 'events', ['case_id', 'seq'], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        # the names a new database gets (metadata.create_all), not the temporary table's
        op.execute("ALTER SEQUENCE events_0009_gseq_seq RENAME TO events_gseq_seq")
        op.execute("ALTER INDEX events_0009_pkey RENAME TO events_pkey")
        # the numbers were given, not drawn
        op.execute("SELECT setval(pg_get_serial_sequence('events', 'gseq'), "
                   "COALESCE((SELECT MAX(gseq) FROM events), 0) + 1, false)")
    op.create_table(
        'audit_ledger',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('legacy_through', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("INSERT INTO audit_ledger (id, legacy_through) "
               "SELECT 1, COALESCE(MAX(gseq), 0) FROM events")


def downgrade() -> None:
    """Back to per-case chains only; keyed events stay, but the old code cannot verify them."""
    op.drop_table('audit_ledger')
    op.create_table(
        'events_0007',
        *_event_columns(),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('case_id', 'seq'),
    )
    columns = ", ".join(_OLD)
    op.execute(f"INSERT INTO events_0007 ({columns}) SELECT {columns} FROM events")
    op.drop_index('ux_events_case_seq', table_name='events')
    op.drop_table('events')
    op.rename_table('events_0007', 'events')

"""sign-in counts and worker sweeps in the database

`signin_attempts` holds the failed sign-ins every server process counts against (before: each
process's memory, so N processes allowed N times the limit); `worker_sweeps` when each scheduler
worker last finished a sweep (the worker lag GET /metrics reports).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signin_attempts',
        sa.Column('key', sa.String(255), primary_key=True),
        sa.Column('failures', sa.Integer, nullable=False),
        sa.Column('expires_at', sa.Float, nullable=False),
    )
    op.create_index('ix_signin_attempts_expires_at', 'signin_attempts', ['expires_at'])
    op.create_table(
        'worker_sweeps',
        sa.Column('worker', sa.String(128), primary_key=True),
        sa.Column('swept_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('worker_sweeps')
    op.drop_index('ix_signin_attempts_expires_at', table_name='signin_attempts')
    op.drop_table('signin_attempts')

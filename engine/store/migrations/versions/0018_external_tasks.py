"""external tasks

`external_tasks` holds the drawn service tasks that wait for a worker (engine.bpmn.external): one
row per waiting task, written with the case's other rows by each command. A worker's
fetch-and-lock takes rows of its topics whose lock is free or expired (`ix_external_tasks_fetch`);
`retries` and `incident` record failures.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'external_tasks',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('cases.id'), nullable=False, index=True),
        sa.Column('topic', sa.String(128), nullable=False),
        sa.Column('step', sa.String(128), nullable=False),
        sa.Column('worker_id', sa.String(128)),
        sa.Column('lock_expires_at', sa.DateTime(timezone=True)),
        sa.Column('retries', sa.Integer),
        sa.Column('error_message', sa.Text),
        sa.Column('incident', sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_external_tasks_fetch', 'external_tasks',
                    ['topic', 'incident', 'lock_expires_at'])


def downgrade() -> None:
    op.drop_index('ix_external_tasks_fetch', table_name='external_tasks')
    op.drop_table('external_tasks')

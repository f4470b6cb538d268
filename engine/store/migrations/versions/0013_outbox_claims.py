"""outbox claims

A worker that claims an outbox row to send it writes a fresh token in `claim`; only the holder of
that token may record the row as sent or failed, so a worker whose lease ran out (and whose row
another worker took over) cannot overwrite what the other one recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claim', sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claim')

"""cases option

`cases.option` is the service option chosen at intake (a definition's `options`: a passport in
1 month, 15 days or 7 days): the case's due date and fee are the option's. Null for a case of a
procedure without options, and for every case started before.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('option', sa.String(64), nullable=True))


def downgrade() -> None:
    # In place (SQLite has dropped a plain column since 3.35): a batch copy would drop `cases`,
    # which the external tasks' foreign key forbids while foreign keys are enforced.
    op.drop_column('cases', 'option')

"""cases spiff_version

Each case's stored workflow state names the layout that restores it (`state_format`, okno's) and,
from now on, the version of SpiffWorkflow's serializer format it was written in (`spiff_version`),
so that a SpiffWorkflow upgrade can migrate stored cases on restore. Every case stored before this
revision was written by SpiffWorkflow 3.2, whose serializer format is 1.5.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spiff_version', sa.String(length=16), nullable=False,
                                      server_default='1.5'))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('spiff_version')

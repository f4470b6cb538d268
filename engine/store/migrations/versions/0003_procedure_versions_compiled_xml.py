"""procedure versions compiled xml

The BPMN compiled from a version's steps, stored when the version is published, so a later
compiler never changes the process of a case already running (see engine/versions.py).
Rows stored before this revision get it the first time they are read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('procedure_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compiled_xml', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('procedure_versions', schema=None) as batch_op:
        batch_op.drop_column('compiled_xml')

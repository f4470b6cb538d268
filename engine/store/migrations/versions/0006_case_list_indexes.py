"""case list indexes

Case lists come newest first, a page at a time: an index per list in that order makes a page an
index range instead of a sort of every case of the authority.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_NEW = {
    'ix_cases_started': ['started_at', 'id'],
    'ix_cases_authority_started': ['authority', 'started_at', 'id'],
    'ix_cases_authority_overdue': ['authority', 'overdue', 'started_at', 'id'],
}


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_authority_status')
        batch_op.create_index('ix_cases_authority_status', ['authority', 'status', 'started_at', 'id'],
                              unique=False)
        for name, columns in _NEW.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name in _NEW:
            batch_op.drop_index(name)
        batch_op.drop_index('ix_cases_authority_status')
        batch_op.create_index('ix_cases_authority_status', ['authority', 'status'], unique=False)

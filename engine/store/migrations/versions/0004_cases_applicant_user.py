"""cases applicant user; idempotency created_at index

The applicant's okno account, apart from the applicant's name as the application gives it: an
applicant sees the cases linked to their account, never cases that merely carry their name.
Cases filed before this revision are linked when their applicant is the name of an applicant
account (that was the rule until now), so nobody loses sight of a case they could see.

The worker purges expired Idempotency-Keys by their creation time: that column gets an index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applicant_user', sa.String(length=128), nullable=True))
        batch_op.create_index('ix_cases_applicant_user', ['applicant_user'], unique=False)
    op.execute("UPDATE cases SET applicant_user = applicant WHERE applicant IN "
               "(SELECT name FROM users WHERE role = 'applicant')")
    with op.batch_alter_table('idempotency', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotency', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_created_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_applicant_user')
        batch_op.drop_column('applicant_user')

"""users disabled_at, credentials_changed_at

An operator can disable an account (`okno user disable`) and reset its password (`okno user
password`); every request checks the account behind its token, so both take effect at once
instead of when the token expires. `disabled_at` is set while the account is disabled;
`credentials_changed_at` is the last password change: tokens issued before it are refused.
Existing accounts get neither (enabled, no change recorded).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('credentials_changed_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('credentials_changed_at')
        batch_op.drop_column('disabled_at')

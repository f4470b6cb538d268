"""saved filters

Each user's named work-list filters on the clerk's desk (`/desk`): the filter as the desk's query
string, so a saved filter is a link.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_filters',
        sa.Column('user', sa.String(length=128), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user'], ['users.name'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user', 'name'),
    )


def downgrade() -> None:
    op.drop_table('saved_filters')

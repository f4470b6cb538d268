"""publications

`publications` records every publication of a changed catalog through the API or `okno publish`
(engine/publication): who, when, the procedures and versions, the diff summary and the burden
increases confirmed, written in the transaction that stores the versions.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'publications',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(128), nullable=False),
        sa.Column('versions', sa.Text, nullable=False),
        sa.Column('summary', sa.Text, nullable=False),
        sa.Column('confirmed', sa.Text, nullable=False),
        sa.Column('digest', sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('publications')

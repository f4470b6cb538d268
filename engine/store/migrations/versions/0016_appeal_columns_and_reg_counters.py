"""appeal columns and registration counters

Cases gain what an appeal carries (its text, the applicant's e-mail and postal address, whether
it is anonymous), the extension of the term applied last, and where and when it was forwarded;
`outcome` and `reg_number` are widened (`left_without_consideration`; an authority id of up to
64 characters in `{authority}-{yyyy}-{nnnnnn}`). `reg_counters` holds the last registration
number given per authority and year, incremented in the start command's transaction.

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.alter_column('reg_number', type_=sa.String(96), existing_type=sa.String(40))
        batch.alter_column('outcome', type_=sa.String(32), existing_type=sa.String(16))
        batch.add_column(sa.Column('question', sa.Text))
        batch.add_column(sa.Column('email', sa.String(254)))
        batch.add_column(sa.Column('address', sa.String(500)))
        batch.add_column(sa.Column('anonymous', sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('extension', sa.String(64)))
        batch.add_column(sa.Column('forwarded_from', sa.String(128)))
        batch.add_column(sa.Column('forwarded_on', sa.Date))
    op.create_table(
        'reg_counters',
        sa.Column('authority', sa.String(128), primary_key=True),
        sa.Column('year', sa.Integer, primary_key=True),
        sa.Column('last', sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('reg_counters')
    with op.batch_alter_table('cases') as batch:
        for column in ('forwarded_on', 'forwarded_from', 'extension', 'anonymous', 'address',
                       'email', 'question'):
            batch.drop_column(column)
        batch.alter_column('outcome', type_=sa.String(16), existing_type=sa.String(32))
        batch.alter_column('reg_number', type_=sa.String(40), existing_type=sa.String(96))

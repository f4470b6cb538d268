"""appeals and notices

Cases gain the type of what they run (procedure, appeal, remarks), a registration number, and the
kind and topic of an appeal; `notices` holds the notices commands generate, `outbox` their
delivery by the worker.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('type', sa.String(16), nullable=False, server_default='procedure'))
        batch.add_column(sa.Column('reg_number', sa.String(40)))
        batch.add_column(sa.Column('kind', sa.String(16)))
        batch.add_column(sa.Column('topic', sa.String(64)))
    op.create_index('ux_cases_reg_number', 'cases', ['reg_number'], unique=True)
    op.create_index('ix_cases_type_authority_started', 'cases', ['type', 'authority', 'started_at'])
    op.create_table(
        'notices',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('kind', sa.String(64), nullable=False),
        sa.Column('title', sa.Text, nullable=False),
        sa.Column('body', sa.Text, nullable=False),
        sa.Column('recipient', sa.String(254)),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_by', sa.Date),
    )
    op.create_index('ix_notices_case_id', 'notices', ['case_id'])
    op.create_table(
        'outbox',
        sa.Column('notice_id', sa.String(36), sa.ForeignKey('notices.id'), primary_key=True),
        sa.Column('address', sa.String(254), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer, nullable=False, server_default='0'),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text),
        sa.Column('sent_at', sa.DateTime(timezone=True)),
        sa.Column('message_id', sa.String(255)),
    )
    op.create_index('ix_outbox_due', 'outbox', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_notices_case_id', table_name='notices')
    op.drop_table('notices')
    op.drop_index('ix_cases_type_authority_started', table_name='cases')
    op.drop_index('ux_cases_reg_number', table_name='cases')
    # In place on SQLite (3.35+): a batch rebuild would drop `cases`, which its foreign keys
    # refuse while tasks and events point at it.
    for column in ('topic', 'kind', 'reg_number', 'type'):
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(f'ALTER TABLE cases DROP COLUMN {column}')
        else:
            op.drop_column('cases', column)

"""quality ratings

`ratings` holds the applicants' grades of their ended cases (engine/ratings/): one row per case,
1-5 on each of the rating portal's four criteria, an optional comment, and the case's authority,
procedure number and type copied at grading time for the registers and reports. The covering
index `ix_cases_report` serves the reports (engine.reports.figures) from the index alone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

CRITERIA = ('simplicity', 'information', 'term', 'politeness')
REPORT_INDEX = ('type', 'authority', 'channel', 'kind', 'topic', 'number', 'outcome', 'ground',
                'status', 'start_date', 'due_date', 'closed_at')


def upgrade() -> None:
    op.create_table(
        'ratings',
        sa.Column('case_id', sa.String(36), sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('applicant_user', sa.String(128), nullable=False),
        sa.Column('authority', sa.String(128), nullable=False),
        sa.Column('number', sa.String(32), nullable=False),
        sa.Column('type', sa.String(16), nullable=False),
        *(sa.Column(c, sa.Integer, nullable=False) for c in CRITERIA),
        sa.Column('comment', sa.Text),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        *(sa.CheckConstraint(f'{c} BETWEEN 1 AND 5', name=f'ck_ratings_{c}') for c in CRITERIA),
    )
    op.create_index('ix_ratings_authority_created', 'ratings', ['authority', 'created_at'])
    op.create_index('ix_ratings_number_created', 'ratings', ['number', 'created_at'])
    op.create_index('ix_cases_report', 'cases', list(REPORT_INDEX))


def downgrade() -> None:
    op.drop_index('ix_cases_report', table_name='cases')
    op.drop_index('ix_ratings_number_created', table_name='ratings')
    op.drop_index('ix_ratings_authority_created', table_name='ratings')
    op.drop_table('ratings')

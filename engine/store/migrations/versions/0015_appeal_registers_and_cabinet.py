"""repeated appeals, termination of correspondence, public answers, applicant profiles

Tables `correspondence_terminations`, `public_answers`, `public_answer_cases` and
`applicant_profiles`; the index `ix_cases_authority_email` repeated appeals are found by.
(The appeal's text, e-mail and anonymity are columns of 0014.)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_authority_email', 'cases', ['authority', 'email'])
    op.create_table(
        'correspondence_terminations',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('authority', sa.String(128), nullable=False),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('applicant', sa.String(128), nullable=False),
        sa.Column('applicant_user', sa.String(128)),
        sa.Column('email', sa.String(254)),
        sa.Column('question', sa.Text, nullable=False),
        sa.Column('ground', sa.Text, nullable=False),
        sa.Column('decided_by', sa.String(128), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_terminations_authority_user', 'correspondence_terminations',
                    ['authority', 'applicant_user'])
    op.create_index('ix_terminations_authority_email', 'correspondence_terminations',
                    ['authority', 'email'])
    op.create_index('ux_terminations_case', 'correspondence_terminations', ['case_id'], unique=True)
    op.create_table(
        'public_answers',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('authority', sa.String(128), nullable=False),
        sa.Column('topic', sa.String(64)),
        sa.Column('title', sa.Text, nullable=False),
        sa.Column('answer', sa.Text, nullable=False),
        sa.Column('appeals', sa.Integer, nullable=False),
        sa.Column('published_by', sa.String(128), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_public_answers_authority', 'public_answers', ['authority', 'published_at'])
    op.create_index('ix_public_answers_published', 'public_answers', ['published_at'])
    op.create_table(
        'public_answer_cases',
        sa.Column('answer_id', sa.String(36), sa.ForeignKey('public_answers.id'), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('cases.id'), primary_key=True),
    )
    op.create_index('ix_public_answer_cases_case', 'public_answer_cases', ['case_id'])
    op.create_table(
        'applicant_profiles',
        sa.Column('name', sa.String(128), sa.ForeignKey('users.name', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('email', sa.String(254)),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('applicant_profiles')
    op.drop_index('ix_public_answer_cases_case', table_name='public_answer_cases')
    op.drop_table('public_answer_cases')
    op.drop_index('ix_public_answers_published', table_name='public_answers')
    op.drop_index('ix_public_answers_authority', table_name='public_answers')
    op.drop_table('public_answers')
    op.drop_index('ux_terminations_case', table_name='correspondence_terminations')
    op.drop_index('ix_terminations_authority_email', table_name='correspondence_terminations')
    op.drop_index('ix_terminations_authority_user', table_name='correspondence_terminations')
    op.drop_table('correspondence_terminations')
    op.drop_index('ix_cases_authority_email', table_name='cases')

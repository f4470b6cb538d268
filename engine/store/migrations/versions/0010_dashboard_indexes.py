"""dashboard indexes

The supervisor's dashboard (engine.read.dashboard) aggregates one authority's cases and tasks in
SQL: overdue open cases and the load by procedure read (authority, status, due_date, number)
alone; the on-time share ranges over (authority, closed_at); the load by clerk groups the open
tasks by assignee from (authority, state, assignee, due_date). Without them each figure scans
every case (or task) the authority ever had.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_CASES = {
    'ix_cases_authority_status_due': ['authority', 'status', 'due_date', 'number'],
    'ix_cases_authority_closed': ['authority', 'closed_at'],
}
_TASKS = {'ix_tasks_authority_state': ['authority', 'state', 'assignee', 'due_date']}


def upgrade() -> None:
    for table, indexes in (('cases', _CASES), ('tasks', _TASKS)):
        for name, columns in indexes.items():
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, indexes in (('cases', _CASES), ('tasks', _TASKS)):
        for name in indexes:
            op.drop_index(name, table_name=table)

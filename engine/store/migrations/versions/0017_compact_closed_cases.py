"""compact the workflow state of closed cases; the open tasks' index in work-list order

A closed case takes no more commands and nothing reads its workflow, yet its full state (12.4 KB
for the housing register) was kept. Closing now replaces it by a stand-in that keeps the SHA-256
of the state it replaced (engine.store.closed_state); this migration does the same for the cases
closed before, in batches of BATCH rows (each its own statement set, so a large database is not
held in one transaction's memory). `okno audit verify` accepts a stand-in for the state its
events recorded. The formula is repeated here, as it stood for format okno-closed/1: a migration
never changes with the code. Downgrade cannot restore a dropped state and leaves the stand-ins.

`ix_tasks_open_due` (authority, state, due_date, created_at, id) serves a work list of clerks'
and supervisors' tasks together (a supervisor's desk, the overdue tasks) in its own order: with
`ix_tasks_worklist` alone, the two kinds of performer are two ranges and every open task of the
authority was sorted for each page.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""
from __future__ import annotations

import hashlib

import orjson
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

FORMAT = 'okno-closed/1'
BATCH = 500

_cases = sa.table('cases', sa.column('id', sa.String), sa.column('status', sa.String),
                  sa.column('state', sa.LargeBinary), sa.column('state_format', sa.String))


def _compact(full_state: bytes) -> bytes:
    return orjson.dumps({'closed': {'replaces': hashlib.sha256(full_state).hexdigest()}})


def upgrade() -> None:
    op.create_index('ix_tasks_open_due', 'tasks', ['authority', 'state', 'due_date', 'created_at', 'id'])
    conn = op.get_bind()
    after = ''
    update = (sa.update(_cases).where(_cases.c.id == sa.bindparam('_id'))
              .values(state=sa.bindparam('state'), state_format=FORMAT))
    while True:
        rows = conn.execute(
            sa.select(_cases.c.id, _cases.c.state)
            .where(_cases.c.status == 'closed', _cases.c.state_format != FORMAT, _cases.c.id > after)
            .order_by(_cases.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(update, [{'_id': r.id, 'state': _compact(bytes(r.state))} for r in rows])
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index('ix_tasks_open_due', table_name='tasks')
    # a dropped workflow state cannot be restored; the stand-ins stay (see the docstring)

"""appeal columns and registration counters

Cases gain what an appeal carries (its text, the applicant's e-mail and postal address, whether
it is anonymous), the extension of the term applied last, and where and when it was forwarded;
`outcome` and `reg_number` are widened (`left_without_consideration`; an authority id of up to
64 characters in `{authority}-{yyyy}-{nnnnnn}`). `reg_counters` holds the last registration
number given per authority and year, incremented in the start command's transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _widen(outcome: int, reg_number: int) -> None:
    """The declared lengths of `outcome` and `reg_number`.

    SQLite would rebuild `cases` for an ALTER COLUMN (copy, DROP TABLE, rename), and its foreign
    keys refuse dropping a table that tasks and events point at; it does not enforce a VARCHAR's
    length either, and the column's affinity (TEXT) stays. So there the declaration is edited
    in the schema itself, as SQLite's ALTER TABLE documentation describes for changes that do
    not touch stored data, and the schema version is bumped for other connections."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.alter_column('cases', 'outcome', type_=sa.String(outcome))
        op.alter_column('cases', 'reg_number', type_=sa.String(reg_number))
        return
    old_outcome, old_reg = (16, 40) if outcome > 16 else (32, 96)
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cases'").scalar_one()
    new = re.sub(rf'\boutcome VARCHAR\({old_outcome}\)', f'outcome VARCHAR({outcome})', sql)
    new = re.sub(rf'\breg_number VARCHAR\({old_reg}\)', f'reg_number VARCHAR({reg_number})', new)
    if new.count(f'VARCHAR({outcome})') < 1 or f'reg_number VARCHAR({reg_number})' not in new:
        raise RuntimeError('cases: the declarations of outcome and reg_number were not found')
    version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
    bind.exec_driver_sql('PRAGMA writable_schema = ON')
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'cases'",
                         (new,))
    bind.exec_driver_sql('PRAGMA writable_schema = OFF')
    bind.exec_driver_sql(f'PRAGMA schema_version = {int(version) + 1}')


def upgrade() -> None:
    _widen(32, 96)
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('question', sa.Text))
        batch.add_column(sa.Column('email', sa.String(254)))
        batch.add_column(sa.Column('address', sa.String(500)))
        # A constant default: SQLite adds the column in place (an expression would rebuild).
        batch.add_column(sa.Column('anonymous', sa.Boolean, nullable=False, server_default='0'))
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
    for column in ('forwarded_on', 'forwarded_from', 'extension', 'anonymous', 'address',
                   'email', 'question'):
        drop_cases_column(column)
    _widen(16, 40)


def drop_cases_column(column: str) -> None:
    """SQLite (3.35+) drops an unindexed column in place: a batch rebuild of `cases` would drop
    the table, which its foreign keys refuse while tasks and events point at it."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE cases DROP COLUMN {column}')
    else:
        op.drop_column('cases', column)

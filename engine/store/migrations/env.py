"""Alembic environment: migrations run on the connection `engine.store.connect.upgrade_schema` passes in."""
from __future__ import annotations

from alembic import context

from engine.store.tables import metadata

config = context.config
target_metadata = metadata
connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: use the configured URL
    from engine.store.connect import connect

    connection = connect(config.get_main_option("sqlalchemy.url"), create=False).connect()

context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""Alembic migrations of okno's database schema (run by `engine.store.connect`)."""

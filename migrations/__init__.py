"""Alembic migrations: the one schema history, owned by `core.db`."""

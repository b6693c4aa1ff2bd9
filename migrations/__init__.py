"""Alembic migrations: the one schema history, owned by `velocitas.db`."""

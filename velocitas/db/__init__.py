"""Persistence: SQLAlchemy models (one metadata), engine/session factory, bar I/O."""

"""PostgreSQL URL spellings: SQLAlchemy's (driver named) and libpq's (plain).

Apart from `velocitas.db.engine` so that paths that only need psycopg (reading bars, the
embedded server's start-up) do not import SQLAlchemy to rewrite a prefix.
"""

from __future__ import annotations

__all__ = ["libpq_url", "sqlalchemy_url"]


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def libpq_url(url: str) -> str:
    """The same URL without a SQLAlchemy driver suffix, for psycopg.connect."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)

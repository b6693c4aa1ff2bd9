"""Engine and session factory for whichever database is configured (or embedded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from velocitas import embedded
from velocitas.db.urls import libpq_url, sqlalchemy_url
from velocitas.settings import Settings, get_settings
from velocitas.telemetry import instrument_pool

# The URL helpers live in velocitas.db.urls (no SQLAlchemy); still importable from here.
__all__ = ["connect", "get_engine", "libpq_url", "session_scope", "sqlalchemy_url"]


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    engine = create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)
    instrument_pool(engine)  # velocitas_db_pool_connections_{in_use,max}
    return engine


def get_engine(settings: Settings | None = None) -> Engine:
    return _engine_for(embedded.database_url(settings or get_settings()))


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on any exception."""
    factory = sessionmaker(get_engine(settings), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def connect(settings: Settings | None = None) -> psycopg.Connection:
    """A raw psycopg connection, for COPY and other bulk paths SQLAlchemy does not cover."""
    return psycopg.connect(libpq_url(embedded.database_url(settings or get_settings())))

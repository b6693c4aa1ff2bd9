"""Fixtures of the trader's tests: trader processes stopped after each test, the sessions'
database, and (for the outage test) the reliability suite's private PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.reliability.conftest import private_database, private_postgres, private_redis
from tests.trader.process import TraderProcess
from velocitas.db.engine import get_engine

__all__ = ["private_database", "private_postgres", "private_redis"]  # the outage tests' servers

TradersFactory = Callable[..., TraderProcess]


@pytest.fixture
def traders(tmp_path: Path, redis_url: str) -> Iterator[TradersFactory]:
    """Starts trader processes on the given database (and the suite's Redis unless `env`
    names another `REDIS_URL`); stops them after."""
    started: list[TraderProcess] = []

    def start(database_url: str, trader_id: str, **env: str) -> TraderProcess:
        env = {"REDIS_URL": redis_url, **env}
        handle = TraderProcess(database_url, trader_id, tmp_path, **env).start()
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


def session_factory() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)

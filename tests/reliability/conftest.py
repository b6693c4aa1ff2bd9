"""Fixtures of the reliability suite: servers a test may stop or kill, real worker processes,
and small real backtest jobs whose results are counted."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.jobs import Submitter
from tests.reliability.servers import PrivatePostgres, PrivateRedis, create_database
from tests.worker.process import WorkerProcess
from velocitas.db import migrate
from velocitas.db.engine import _engine_for
from velocitas.settings import get_settings

# Short periods, so a lost job comes back within seconds (production: docs/jobs.md).
FAST_RECONCILER = {
    "WORKER_HEARTBEAT_INTERVAL_S": "0.5",
    "WORKER_HEARTBEAT_STALE_S": "2",
    "WORKER_RECONCILE_INTERVAL_S": "1",
    "WORKER_REDISPATCH_AFTER_S": "2",
}


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this module's own (the tests stop it), in a short /tmp path."""
    directory = Path(tempfile.mkdtemp(prefix="vrpg-"))
    server = PrivatePostgres(directory)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_database(
    private_postgres: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated database on the private server; `DATABASE_URL` points at it."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    create_database(private_postgres.admin_url, name)
    url = private_postgres.url(name)
    migrate.upgrade("head", database_url=url)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    _engine_for.cache_clear()


@pytest.fixture
def private_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    """A Redis of this test's own (it gets killed), with the embedded Redis's persistence."""
    directory = Path(tempfile.mkdtemp(prefix="vrr-"))  # a Unix socket path must stay short
    server = PrivateRedis(directory)
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


WorkersFactory = Callable[..., WorkerProcess]


@pytest.fixture
def workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkersFactory]:
    """Makes workers (not started) on the given database and Redis, on a queue of the test's
    own, with the fast reconciler; stops them after the test."""
    handles: list[WorkerProcess] = []
    queue = f"rel-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", queue)
    get_settings.cache_clear()

    def make(database_url: str, redis_url: str, **env: str) -> WorkerProcess:
        monkeypatch.setenv("REDIS_URL", redis_url)  # this process sends and pings there too
        get_settings.cache_clear()
        handle = WorkerProcess(
            database_url, redis_url, queue, tmp_path, include="tests.reliability.slow_backtests"
        )
        handle.env.update(FAST_RECONCILER)
        handle.env.update(env)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.stop()


@pytest.fixture
def submitter() -> Submitter:
    return Submitter()

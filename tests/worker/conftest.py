"""Worker fixtures: a real Celery worker process on the test's database, Redis and queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.process import EventLog, WorkerProcess
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.settings import get_settings


@pytest.fixture
def queue(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", name)
    get_settings.cache_clear()
    return name


@pytest.fixture
def workers(
    database_url: str, redis_url: str, queue: str, tmp_path: Path
) -> Iterator[WorkerProcess]:
    """Not started: call `.start()` (once per worker process wanted)."""
    handle = WorkerProcess(database_url, redis_url, queue, tmp_path)
    yield handle
    handle.stop()


@pytest.fixture
def owner(queue: str) -> uuid.UUID:
    with session_scope() as session:
        return create_user(session, f"owner-{uuid.uuid4().hex[:6]}").user.id


@pytest.fixture
def events(redis_url: str, owner: uuid.UUID) -> Iterator[EventLog]:
    log = EventLog(redis_url, owner)
    yield log
    log.close()

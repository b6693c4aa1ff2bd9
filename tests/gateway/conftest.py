"""Gateway fixtures: the real app in-process (TestClient) on a fresh database and real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app
from tests.worker.process import WorkerProcess
from velocitas.db.accounts import create_user, forget_cached_keys
from velocitas.db.engine import session_scope
from velocitas.db.models import Bar
from velocitas.db.models.lab import Model
from velocitas.domain.roles import Role
from velocitas.settings import get_settings

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def platform_env(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database, the shared Redis, and a job queue of this test's own."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", queue)
    get_settings.cache_clear()
    forget_cached_keys()
    return queue


@pytest.fixture
def client(platform_env: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def make_account(platform_env: str) -> Callable[..., Account]:
    def make(name: str, role: Role = Role.USER) -> Account:
        with session_scope() as session:
            created = create_user(session, name, role)
        return Account(created.user.id, created.user.name, created.api_key)

    return make


@pytest.fixture
def alice(make_account: Callable[..., Account]) -> Account:
    return make_account("alice")


@pytest.fixture
def bob(make_account: Callable[..., Account]) -> Account:
    return make_account("bob")


@pytest.fixture
def writer(make_account: Callable[..., Account]) -> Account:
    """A user with the `data-writer` role: may upload the shared market data."""
    return make_account("writer", Role.DATA_WRITER)


def store_bars(symbol: str = "BTCUSDT", timeframe: str = "1h", n: int = 200) -> None:
    """A gently trending hourly series from T0, exact decimal prices."""
    with session_scope() as session:
        for i in range(n):
            close = Decimal(100) + Decimal(i) / 4 + Decimal((i * 7) % 11) - 5
            session.add(
                Bar(
                    symbol=symbol,
                    timeframe=timeframe,
                    opened_at=T0 + timedelta(hours=i),
                    open=close - Decimal("0.5"),
                    high=close + 1,
                    low=close - 1,
                    close=close,
                    volume=Decimal(10 + i % 5),
                )
            )


def register_model_row(version: str, timeframe: str = "1h") -> None:
    """A model registry row; submitting only checks it exists (its bundle is read by the job)."""
    with session_scope() as session:
        session.add(
            Model(
                version=version, symbol="BTCUSDT", timeframe=timeframe, path="/nowhere",
                sha256="0" * 64, feature_spec_hash="0" * 64, data_snapshot_hash="0" * 64,
                train_start=T0, train_end=T0, validate_start=T0, validate_end=T0, metrics={},
            )
        )  # fmt: skip


@pytest.fixture
def workers(
    platform_env: str, database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[WorkerProcess]:
    """Real Celery worker processes on this test's database and queue; call `.start()`."""
    handle = WorkerProcess(database_url, redis_url, platform_env, tmp_path)
    yield handle
    handle.stop()

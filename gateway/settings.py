"""The gateway's settings: the shared `Settings` plus what only the HTTP service needs.

Environment: everything `velocitas.settings.Settings` reads, and `MAX_BODY_BYTES` (largest
accepted JSON request body, default 1 MiB), `MAX_UPLOAD_BYTES` (largest accepted request body
for file uploads, default 64 MiB), `ORACLE_URL` and `ANALYST_URL` (the services the gateway
calls over HTTP) with their timeouts, `WS_SEND_QUEUE` (messages a `/ws` client may fall behind
before it is dropped, default 1024).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from velocitas.settings import Settings


class GatewaySettings(Settings):
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest accepted request body in bytes on every route but the uploads; larger: 413."""
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    """Largest accepted upload body in bytes (`POST /bars`); larger ones get 413."""

    oracle_url: str = "http://127.0.0.1:8001"
    """Where the oracle service listens; the gateway's `POST /predict` forwards there."""
    oracle_timeout_s: float = Field(default=2.0, gt=0, le=60)
    """Connect/read timeout of one call to the oracle."""
    oracle_max_body_bytes: int = Field(default=1 << 20, ge=1024)
    """Largest `/predict` body the gateway forwards (the oracle enforces its own limit too)."""

    analyst_url: str = "http://127.0.0.1:8002"
    """Where the analyst service listens; `GET /sentiment` and `GET /news/search` forward there."""
    analyst_timeout_s: float = Field(default=30.0, gt=0, le=120)
    """Connect/read timeout of one call to the analyst (a call during its start-up waits for
    the embedding model to load)."""

    upstream_max_connections: int = Field(default=100, ge=1, le=10_000)
    """Connections the gateway keeps open to each of the oracle and the analyst (pooled)."""

    ws_send_queue: int = Field(default=1024, ge=8, le=1_000_000)
    """Messages one `/ws` connection may have waiting to be sent; a live message that finds
    the queue full closes the socket (1013, too slow) rather than slow the stream down."""


@lru_cache
def get_gateway_settings() -> GatewaySettings:
    return GatewaySettings()

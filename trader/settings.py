"""Trader settings: session slots, the lease and its heartbeat, the metrics endpoint."""

from __future__ import annotations

import os
import socket
import uuid
from functools import lru_cache

from pydantic import Field, model_validator

from velocitas.settings import Settings


class TraderSettings(Settings):
    """Environment of the trader service; field names match the environment variables."""

    trader_slots: int = Field(default=4, ge=1, le=256)
    """Sessions one trader process runs at once (one thread each: module doc of
    `trader.service`). More CPU: more trader processes (`velocitas up --traders N`)."""
    trader_lease_ttl_s: float = Field(default=10.0, gt=0, le=3600)
    """How long a claimed session stays this trader's without a heartbeat. A trader killed
    with SIGKILL leaves its sessions to the others after at most this long."""
    trader_heartbeat_s: float | None = Field(default=None, gt=0)
    """How often the leases are renewed; unset: a third of the TTL (two heartbeats may be
    missed, a GC pause or a long numba kernel, before a lease is lost)."""
    trader_poll_s: float = Field(default=1.0, gt=0, le=60)
    """How often a trader with a free slot looks for a session to claim."""
    trader_drain_s: float = Field(default=20.0, ge=0)
    """On SIGTERM, how long the sessions get to stop and release their leases."""
    trader_id: str | None = Field(default=None, max_length=128)
    """This process's name on the leases it holds; unset: `host:pid:random`."""
    trader_runner: str = "trader.run:run_session"
    """The session runner, `module:function` (`trader.run.run_session`'s signature)."""
    trader_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve this trader's metrics on this port (`/metrics`); unset: not served."""
    trader_metrics_host: str = "0.0.0.0"
    """The interface the metrics endpoint listens on."""

    @property
    def heartbeat_s(self) -> float:
        return self.trader_heartbeat_s or self.trader_lease_ttl_s / 3

    @property
    def identity(self) -> str:
        return self.trader_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @model_validator(mode="after")
    def _heartbeat_within_ttl(self) -> TraderSettings:
        if (
            self.trader_heartbeat_s is not None
            and self.trader_heartbeat_s >= self.trader_lease_ttl_s
        ):
            raise ValueError(
                "TRADER_HEARTBEAT_S must be shorter than TRADER_LEASE_TTL_S, or every lease "
                "would expire between two renewals"
            )
        return self


@lru_cache
def get_trader_settings() -> TraderSettings:
    return TraderSettings()

"""Worker settings: time limits, visibility timeout and retry bounds (environment variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from velocitas.settings import Settings


class WorkerSettings(Settings):
    worker_soft_time_limit_s: int = 3300
    """A job still running after this long is stopped and marked failed."""
    worker_time_limit_s: int = 3600
    """Hard limit: the process running the job is killed (a job ignoring the soft limit)."""
    worker_visibility_timeout_s: int = 3900
    """An unacknowledged job is handed to another worker after this long. It must exceed the
    hard limit, or a job still legitimately running would be delivered twice."""
    worker_restore_interval_s: int = 10
    """How often a worker looks for jobs whose worker died (visibility timeout passed)."""
    worker_redispatch_after_s: int = 10
    """A job still queued this long after its creation, with no message in the queue and none
    held by a worker, is sent again by the reconciler (its send or its message was lost)."""
    worker_max_attempts: int = 5
    """Deliveries of one job (transient-error retries and redeliveries after a lost worker,
    together) before it is marked failed instead of tried again."""
    worker_retry_backoff_max_s: int = 60
    """Cap of the delay before a job whose dependency failed is delivered again."""
    worker_outage_retry_s: int = 120
    """How long a job's database call (claiming it, recording its result or its failure,
    settling its parent) is retried in place, with capped exponential backoff, before the
    delivery is handed back to the queue for later."""
    worker_heartbeat_interval_s: float = 5.0
    """How often a running job's worker stamps `heartbeat_at` on the job."""
    worker_heartbeat_stale_s: float = 30.0
    """A running job whose heartbeat is older than this is taken for lost: the reconciler
    queues it again. Several intervals, so a busy worker (a numba kernel holding the GIL for
    seconds) is not taken for a dead one."""
    worker_reconcile_interval_s: float = 10.0
    """How often the reconciler (one worker at a time: the leader) looks for lost jobs; 0
    turns it off."""
    alerts_max_bars_per_import: int = Field(default=1000, ge=1)
    """The newest bars of one import that alert rules are evaluated on: a backfill of years
    raises no alert for every old crossing (the older bars are history to the rules)."""
    alerts_webhook_attempts: int = Field(default=5, ge=1, le=20)
    """Tries of one alert's webhook delivery before it is marked `failed`."""
    alerts_webhook_backoff_s: float = Field(default=2.0, gt=0)
    """The delay before a webhook's second try; doubled for each later one (at most 60 s)."""
    alerts_webhook_timeout_s: float = Field(default=10.0, gt=0)
    """How long one webhook request may take."""

    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve this worker's metrics on this port (`/metrics`); unset: not served. Needs
    `PROMETHEUS_MULTIPROC_DIR` (docs/monitoring.md)."""
    worker_metrics_host: str = "0.0.0.0"
    """The interface the metrics endpoint listens on."""

    @model_validator(mode="after")
    def _visibility_above_time_limit(self) -> WorkerSettings:
        if not self.worker_soft_time_limit_s < self.worker_time_limit_s:
            raise ValueError("WORKER_SOFT_TIME_LIMIT_S must be below WORKER_TIME_LIMIT_S")
        if self.worker_visibility_timeout_s <= self.worker_time_limit_s:
            raise ValueError("WORKER_VISIBILITY_TIMEOUT_S must exceed WORKER_TIME_LIMIT_S")
        if self.worker_heartbeat_stale_s <= 2 * self.worker_heartbeat_interval_s:
            raise ValueError(
                "WORKER_HEARTBEAT_STALE_S must exceed twice WORKER_HEARTBEAT_INTERVAL_S"
            )
        return self


@lru_cache
def get_worker_settings() -> WorkerSettings:
    return WorkerSettings()

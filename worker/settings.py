"""Worker settings: time limits, visibility timeout and retry bounds (environment variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator

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
    worker_redispatch_after_s: int = 300
    """A job still queued this long after its creation and absent from the queue is sent
    again when a worker starts (its send was lost)."""
    worker_max_attempts: int = 5
    """Deliveries of one job (transient-error retries and redeliveries after a lost worker,
    together) before it is marked failed instead of tried again."""
    worker_retry_backoff_max_s: int = 60

    @model_validator(mode="after")
    def _visibility_above_time_limit(self) -> WorkerSettings:
        if not self.worker_soft_time_limit_s < self.worker_time_limit_s:
            raise ValueError("WORKER_SOFT_TIME_LIMIT_S must be below WORKER_TIME_LIMIT_S")
        if self.worker_visibility_timeout_s <= self.worker_time_limit_s:
            raise ValueError("WORKER_VISIBILITY_TIMEOUT_S must exceed WORKER_TIME_LIMIT_S")
        return self


@lru_cache
def get_worker_settings() -> WorkerSettings:
    return WorkerSettings()

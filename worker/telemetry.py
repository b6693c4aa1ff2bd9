"""A worker's metrics: the job lifecycle's counters, and the endpoint that serves them.

Jobs run in Celery's pool processes, which come and go; the main process lives on. So the
values are kept in files (`PROMETHEUS_MULTIPROC_DIR`, set before the worker starts: `velocitas
up` gives each worker its own under `VELOCITAS_HOME/metrics/`, a container a tmpfs) and the main
process serves their sum on `http://WORKER_METRICS_HOST:WORKER_METRICS_PORT/metrics` once the
worker starts (no port: nothing served). A port without the directory is a configuration
error: the worker refuses to start, rather than serve its main process's values alone.

Counted here, by job kind: started (each delivery claimed), succeeded, failed, retried
(handed back to the queue), the run time by outcome and the first delivery's wait in the
queue; and `velocitas_worker_jobs_running`, the jobs this worker runs now.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from celery.signals import task_postrun, task_prerun, worker_init, worker_process_shutdown
from prometheus_client import Gauge, start_http_server

from velocitas.errors import ConfigurationError
from velocitas.jobs import TASK_FOR_KIND
from velocitas.telemetry import (
    JOB_DURATION,
    JOB_QUEUE_WAIT,
    JOBS_FAILED,
    JOBS_RETRIED,
    JOBS_STARTED,
    JOBS_SUCCEEDED,
    mark_process_dead,
    multiprocess_dir,
    scrape_registry,
)
from worker.settings import get_worker_settings

__all__ = [
    "job_ended",
    "job_retried",
    "job_started",
    "queue_wait",
    "run_time",
    "serve_metrics",
]

log = logging.getLogger(__name__)

RUNNING = Gauge(
    "velocitas_worker_jobs_running",
    "Job tasks this worker's processes run now.",
    multiprocess_mode="livesum",
)
_KIND_OF_TASK = {task: kind.value for kind, task in TASK_FOR_KIND.items()}
_ENDED = {"succeeded": JOBS_SUCCEEDED, "failed": JOBS_FAILED}


class _Timed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def started_at(self) -> datetime | None: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def attempts(self) -> int: ...


def queue_wait(job: _Timed) -> float | None:
    """Seconds from the job's creation to its first start (both PostgreSQL's clock), on its
    first delivery; None on a later one."""
    if job.attempts != 1 or job.started_at is None:
        return None
    return max((job.started_at - job.created_at).total_seconds(), 0.0)


def run_time(job: _Timed) -> float:
    """Seconds from the job's first start to its end (PostgreSQL's clock)."""
    if job.started_at is None or job.finished_at is None:
        return 0.0
    return max((job.finished_at - job.started_at).total_seconds(), 0.0)


def job_started(kind: str, waited_s: float | None) -> None:
    JOBS_STARTED.labels(kind).inc()
    if waited_s is not None:
        JOB_QUEUE_WAIT.labels(kind).observe(waited_s)


def job_ended(kind: str, outcome: str, seconds: float) -> None:
    """A job `succeeded` or `failed` after `seconds`."""
    _ENDED[outcome].labels(kind).inc()
    JOB_DURATION.labels(kind, outcome).observe(seconds)


def job_retried(task_name: str) -> None:
    JOBS_RETRIED.labels(_KIND_OF_TASK.get(task_name, "other")).inc()


def serve_metrics(port: int, host: str) -> None:
    """Serve every process's values of this worker on `host:port` (module doc)."""
    directory = multiprocess_dir()
    if directory is None:
        raise ConfigurationError(
            "WORKER_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: the pool "
            "processes' metrics could not be served (docs/monitoring.md)"
        )
    for stale in Path(directory).glob("*.db"):  # files of processes that are gone
        pid = stale.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    start_http_server(port, addr=host, registry=scrape_registry())
    log.info("metrics on http://%s:%d/metrics", host, port)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@worker_init.connect
def _serve_on_start(**_: Any) -> None:
    settings = get_worker_settings()
    if settings.worker_metrics_port is not None:
        serve_metrics(settings.worker_metrics_port, settings.worker_metrics_host)


@task_prerun.connect
def _task_started(**_: Any) -> None:
    RUNNING.inc()


@task_postrun.connect
def _task_ended(**_: Any) -> None:
    RUNNING.dec()


@worker_process_shutdown.connect
def _forget_process(pid: int | None = None, **_: Any) -> None:
    mark_process_dead(pid or os.getpid())

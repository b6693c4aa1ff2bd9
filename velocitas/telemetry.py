"""Prometheus metrics: the catalogue the services share, and how a process exposes them.

Names follow Prometheus' conventions (`velocitas_<what>_<unit>`, counters end in `_total`,
durations in `_seconds`, sizes in `_bytes`). Labels take bounded vocabularies only (job kinds,
outcomes, route templates, HTTP methods and statuses, model versions), never a user id, a job id
or free text. docs/monitoring.md lists every metric with the service that exports it.

One process or several: when `PROMETHEUS_MULTIPROC_DIR` names a directory in a process's
environment before it imports `prometheus_client`, every value is kept in a file there (one per
process) and `exposition` sums the files of all processes writing to it: how a Celery worker
(its pool processes do the work, its main process serves `/metrics`, `worker.telemetry`) or a
uvicorn started with `--workers N` reports as one. The directory must be empty when the
service starts (a tmpfs, or `velocitas up`'s, which it clears). Gauges say how they combine
across processes (`livesum`: the sum over the processes still running).

A metric that depends on outside state (the queue's length, the jobs waiting in PostgreSQL) is
a `Collector` read at scrape time, passed to `exposition`, never a timer in the background.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from velocitas.domain.events import JobKind

__all__ = [
    "BAR_CACHE_BYTES",
    "BAR_CACHE_HITS",
    "BAR_CACHE_HIT_BYTES",
    "BAR_CACHE_MISSES",
    "CONTENT_TYPE",
    "DB_POOL_IN_USE",
    "DB_POOL_MAX",
    "JOBS_CREATED",
    "JOBS_FAILED",
    "JOBS_RETRIED",
    "JOBS_STARTED",
    "JOBS_SUCCEEDED",
    "JOB_DURATION",
    "JOB_QUEUE_WAIT",
    "LATENCY_BUCKETS",
    "SESSION_JOURNAL_APPEND",
    "exposition",
    "instrument_pool",
    "mark_process_dead",
    "multiprocess_dir",
    "scrape_registry",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Content-Type of `exposition`'s bytes (Prometheus' text format)."""

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Histogram buckets (seconds) for request-sized work: HTTP requests, inference, retrieval."""

_JOB_BUCKETS = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)

# Jobs (the gateway counts what it creates; workers the rest, and the children they fan out).
JOBS_CREATED = Counter("velocitas_jobs_created_total", "Jobs created (queued).", ["kind"])
JOBS_STARTED = Counter(
    "velocitas_jobs_started_total", "Job deliveries a worker started running.", ["kind"]
)
JOBS_SUCCEEDED = Counter("velocitas_jobs_succeeded_total", "Jobs that succeeded.", ["kind"])
JOBS_FAILED = Counter("velocitas_jobs_failed_total", "Jobs marked failed.", ["kind"])
JOBS_RETRIED = Counter(
    "velocitas_jobs_retried_total",
    "Job deliveries handed back to the queue to be tried again (a transient error).",
    ["kind"],
)
JOB_DURATION = Histogram(
    "velocitas_job_duration_seconds",
    "Time from a job's start to its end, by how it ended (succeeded, failed).",
    ["kind", "outcome"],
    buckets=_JOB_BUCKETS,
)
JOB_QUEUE_WAIT = Histogram(
    "velocitas_job_queue_wait_seconds",
    "Time a job waited from its creation to its first start by a worker.",
    ["kind"],
    buckets=_JOB_BUCKETS,
)

for _kind in JobKind:  # every kind's series from the start: a ratio reads 0, not nothing
    for _counter in (JOBS_CREATED, JOBS_STARTED, JOBS_SUCCEEDED, JOBS_FAILED, JOBS_RETRIED):
        _counter.labels(_kind.value)

# The database connection pool of each process (SQLAlchemy's), summed over live processes.
DB_POOL_IN_USE = Gauge(
    "velocitas_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "velocitas_db_pool_connections_max",
    "Database connections the pools may open (pool size plus overflow).",
    multiprocess_mode="livesum",
)

# The workers' bar cache (`velocitas.db.bar_cache`).
BAR_CACHE_HITS = Counter("velocitas_bar_cache_hits_total", "Bar loads served from memory.")
BAR_CACHE_MISSES = Counter(
    "velocitas_bar_cache_misses_total", "Bar loads read from PostgreSQL (absent or stale)."
)
BAR_CACHE_HIT_BYTES = Counter(
    "velocitas_bar_cache_hit_bytes_total", "Bytes of bars served from memory."
)
BAR_CACHE_BYTES = Gauge(
    "velocitas_bar_cache_bytes", "Bytes of bars held in memory now.", multiprocess_mode="livesum"
)

# Trading sessions' journal (`velocitas.db.journal.append_events`: row lock, insert, update).
SESSION_JOURNAL_APPEND = Histogram(
    "velocitas_session_journal_append_seconds",
    "Time to append one batch of events to a session's journal (flush included, commit not).",
    buckets=LATENCY_BUCKETS,
)


def multiprocess_dir() -> str | None:
    """The directory this process shares its values through, or None (single process)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Combined:
    """The default registry plus the scrape-time collectors, for one exposition."""

    def __init__(self, base: Any, extra: Iterable[Collector]) -> None:
        self.base, self.extra = base, tuple(extra)

    def collect(self) -> Iterator[Metric]:
        yield from self.base.collect()
        for collector in self.extra:
            yield from collector.collect()


def scrape_registry(collectors: Iterable[Collector] = ()) -> Any:
    """What a scrape reads: every process's values (multiprocess) or this process's registry,
    plus `collectors`, read now. Something with `collect()`, as `generate_latest` wants."""
    if multiprocess_dir() is None:
        return _Combined(REGISTRY, collectors)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return _Combined(registry, collectors)


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """The metrics in Prometheus' text format (`CONTENT_TYPE`). Blocking when a collector
    asks a server: call it off the event loop."""
    return generate_latest(scrape_registry(collectors))


def mark_process_dead(pid: int) -> None:
    """Forget a finished process's live gauges (multiprocess mode; nothing otherwise)."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, directory)


def instrument_pool(engine: Any) -> None:
    """Count `engine`'s pooled connections in `velocitas_db_pool_*` (SQLAlchemy pool events)."""
    from sqlalchemy import event

    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if callable(size):
        DB_POOL_MAX.inc(size() + max(overflow, 0))
    event.listen(engine, "checkout", lambda *_: DB_POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: DB_POOL_IN_USE.dec())

"""The gateway's own metrics: the job backlog read at each scrape, and WebSocket traffic.

`JobBacklog` asks PostgreSQL (the unfinished jobs by kind and status, and the oldest one's age)
and Redis (the messages waiting in the jobs queue) when Prometheus scrapes; a server that does
not answer leaves its series out of that scrape (and says so in the log), never fails it.
Several gateways export the same backlog: read it with `max` across instances.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind, JobStatus
from velocitas.jobs import jobs_queue, queued_messages

__all__ = [
    "SLOW_CLIENTS_DROPPED",
    "WEBSOCKETS_OPEN",
    "WEBSOCKETS_OPENED",
    "WEBSOCKET_MESSAGES",
    "JobBacklog",
]

log = logging.getLogger(__name__)

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)

WEBSOCKETS_OPEN = Gauge(
    "velocitas_websocket_connections_open",
    "WebSocket connections subscribed to job events now.",
    multiprocess_mode="livesum",
)
WEBSOCKETS_OPENED = Counter(
    "velocitas_websocket_connections_opened_total", "WebSocket connections accepted."
)
WEBSOCKET_MESSAGES = Counter(
    "velocitas_websocket_messages_total",
    "WebSocket messages, by direction (sent to clients, received from them).",
    ["direction"],
)
SLOW_CLIENTS_DROPPED = Counter(
    "velocitas_websocket_slow_clients_dropped_total",
    "WebSocket connections closed (1013) because the client read slower than its stream.",
)


class JobBacklog:
    """A scrape-time collector of the queue's state (module doc)."""

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "velocitas_jobs_unfinished",
            "Jobs queued or running now, by kind and status (PostgreSQL).",
            labels=["kind", "status"],
        )
        oldest = GaugeMetricFamily(
            "velocitas_jobs_oldest_unfinished_age_seconds",
            "Age of the oldest queued or running job, by kind and status (PostgreSQL).",
            labels=["kind", "status"],
        )
        try:
            with session_scope() as session:
                session.execute(text("SET LOCAL statement_timeout = 2000"))
                rows = job_store.backlog(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: the job backlog could not be read: %s", type(exc).__name__)
        else:
            counts = {(kind.value, status): 0 for kind in JobKind for status in _UNFINISHED}
            for row in rows:
                counts[(row.kind, row.status)] = row.count
                oldest.add_metric([row.kind, row.status], row.oldest_age_s)
            for (kind, status), count in counts.items():  # zeros too: a graph shows them
                jobs.add_metric([kind, status], count)
            yield jobs
            yield oldest
        try:
            waiting = queued_messages()
        except redis.RedisError as exc:
            log.warning("metrics: the queue's length could not be read: %s", type(exc).__name__)
        else:
            messages = GaugeMetricFamily(
                "velocitas_queue_messages",
                "Messages waiting in the Celery jobs queue (Redis), not yet taken by a worker.",
                labels=["queue"],
            )
            messages.add_metric([jobs_queue()], waiting)
            yield messages

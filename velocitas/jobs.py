"""The queue contract between the gateway and the workers.

The gateway writes a job row, commits, then sends the job's id (and nothing else) to Celery by
task NAME; the worker re-reads everything else from PostgreSQL. Workers announce each change of
a job on Redis pub/sub, one channel per owner, so the gateway forwards a user's own events only.

Task payload: ``args=[job_id: str]``; the Celery task id is the job id too, so a revoke by job
id reaches the task. The message's headers carry the submitting request's id
(`velocitas.structured_logs.REQUEST_ID_HEADER`) when there is one, for the worker's log lines.
Event message (a `velocitas.domain.JobEvent`, JSON on `events_channel(owner_id)`)::

    {"type": "job.succeeded", "job_id": "…", "owner_id": "…", "kind": "backtest",
     "status": "succeeded", "progress": 1.0, "summary": {…} | null, "error": null,
     "at": "2026-11-21T12:00:00.000000Z"}

Events are notifications, not the record: a client that missed one reads the job over REST.

Copilot alerts travel the same way on `alerts_channel(owner_id)` (a
`velocitas.domain.AlertRaised`, `"type": "alert.raised", "channel": "alerts"`); `subscribe`
listens to both channels. The evaluation tasks take plain values: `TASK_ALERTS_BARS`
``args=[symbol, timeframe, first_opened_at, last_opened_at]`` (ISO-8601 instants of the span an
import stored), `TASK_ALERTS_DELIVER` ``args=[alert_id]`` (a webhook delivery).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis

from velocitas import embedded
from velocitas.domain.events import AlertRaised, JobEvent, JobKind
from velocitas.settings import get_settings
from velocitas.structured_logs import REQUEST_ID_HEADER, current_request_id

__all__ = [
    "JOBS_QUEUE",
    "TASK_ALERTS_BARS",
    "TASK_ALERTS_DELIVER",
    "TASK_FOR_KIND",
    "TASK_RUN_BACKTEST",
    "TASK_RUN_FOLD",
    "TASK_RUN_SWEEP",
    "TASK_RUN_TOURNAMENT",
    "TASK_RUN_TOURNAMENT_ENTRY",
    "TASK_RUN_WALK_FORWARD",
    "TaskSender",
    "alerts_channel",
    "broker_url",
    "events_channel",
    "jobs_queue",
    "publish",
    "publish_alert",
    "queue_lists",
    "queued_messages",
    "send_bars_imported",
    "send_job",
    "subscribe",
]

log = logging.getLogger(__name__)

TASK_RUN_BACKTEST = "worker.backtests.run"
TASK_RUN_SWEEP = "worker.sweeps.run"
TASK_RUN_WALK_FORWARD = "worker.walk_forwards.run"
TASK_RUN_FOLD = "worker.walk_forwards.fold"
TASK_ALERTS_BARS = "worker.alerts.bars_imported"
TASK_ALERTS_DELIVER = "worker.alerts.deliver"
TASK_RUN_TOURNAMENT = "worker.tournaments.run"
TASK_RUN_TOURNAMENT_ENTRY = "worker.tournaments.entry"
JOBS_QUEUE = "velocitas.jobs"
"""The queue job tasks go to unless `VELOCITAS_JOBS_QUEUE` names another (deployments or test
runs sharing one Redis keep apart that way)."""


def jobs_queue() -> str:
    """The queue name producers send to and workers consume from."""
    return get_settings().velocitas_jobs_queue or JOBS_QUEUE


TASK_FOR_KIND: dict[JobKind, str] = {
    JobKind.BACKTEST: TASK_RUN_BACKTEST,
    JobKind.SWEEP: TASK_RUN_SWEEP,
    JobKind.WALK_FORWARD: TASK_RUN_WALK_FORWARD,
    JobKind.FOLD: TASK_RUN_FOLD,
    JobKind.TOURNAMENT: TASK_RUN_TOURNAMENT,
    JobKind.TOURNAMENT_ENTRY: TASK_RUN_TOURNAMENT_ENTRY,
}


def events_channel(owner_id: uuid.UUID | str) -> str:
    """The Redis pub/sub channel carrying the events of one owner's jobs."""
    return f"velocitas:events:{owner_id}"


def alerts_channel(owner_id: uuid.UUID | str) -> str:
    """The Redis pub/sub channel carrying one owner's copilot alerts."""
    return f"velocitas:alerts:{owner_id}"


def broker_url(redis_url: str | None = None) -> str:
    """The Celery/kombu broker URL for a Redis URL.

    redis-py spells a unix socket `unix:///path`; kombu wants `redis+socket:///path`.
    """
    url = redis_url or embedded.redis_url()
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url


# kombu's Redis transport keeps a queue as a list, plus one per priority step when priorities
# are used: `<queue>\x06\x16<step>`.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_lists(queue: str | None = None) -> list[str]:
    """The Redis lists holding the messages waiting in `queue` (the jobs queue by default)."""
    name = queue or jobs_queue()
    return [name, *(f"{name}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]


def queued_messages(redis_url: str | None = None) -> int:
    """Messages waiting in the jobs queue now (not those a worker holds). Answers within about
    two seconds or raises `redis.RedisError`."""
    url = redis_url or embedded.redis_url()
    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        pipe = client.pipeline(transaction=False)
        for name in queue_lists():
            pipe.llen(name)
        return sum(int(n) for n in pipe.execute())
    finally:
        client.close()


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url)
        return _clients[url]


def publish(event: JobEvent, redis_url: str | None = None) -> None:
    """Publish `event` on its owner's channel. A Redis failure is logged, not raised: the
    database holds the job's state, and an event lost is read back over REST."""
    url = redis_url or embedded.redis_url()
    try:
        _client(url).publish(events_channel(event.owner_id), event.model_dump_json())
    except redis.RedisError:
        log.warning("could not publish %s for job %s", event.type, event.job_id, exc_info=True)


def publish_alert(event: AlertRaised, redis_url: str | None = None) -> None:
    """Publish `event` on its owner's alerts channel; like `publish`, a Redis failure is
    logged, not raised (the alert is stored: `GET /alerts` lists it)."""
    url = redis_url or embedded.redis_url()
    try:
        _client(url).publish(alerts_channel(event.owner_id), event.model_dump_json())
    except redis.RedisError:
        log.warning("could not publish alert %s", event.alert_id, exc_info=True)


@asynccontextmanager
async def subscribe(
    owner_id: uuid.UUID, redis_url: str | None = None
) -> AsyncIterator[AsyncIterator[JobEvent | AlertRaised]]:
    """Subscribe to the events of `owner_id`'s jobs and to their alerts.

    The subscription is active when the block is entered (events published from then on are
    received), so a caller can tell its client it is ready before anything is submitted::

        async with subscribe(owner_id) as events:
            async for event in events: ...
    """
    client = aioredis.Redis.from_url(redis_url or embedded.redis_url())
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(events_channel(owner_id), alerts_channel(owner_id))
        yield _events(pubsub, alerts_channel(owner_id).encode())
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _events(
    pubsub: aioredis.client.PubSub, alerts: bytes
) -> AsyncIterator[JobEvent | AlertRaised]:
    async for message in pubsub.listen():
        if message.get("type") == "message":
            if message.get("channel") == alerts:
                yield AlertRaised.model_validate_json(message["data"])
            else:
                yield JobEvent.model_validate_json(message["data"])


class TaskSender(Protocol):
    """What `send_job` needs of a Celery app (velocitas itself does not depend on Celery)."""

    def send_task(
        self, name: str, *, args: list[str], task_id: str, queue: str, headers: dict[str, str]
    ) -> Any: ...


def send_bars_imported(
    sender: TaskSender, symbol: str, timeframe: str, first: datetime, last: datetime
) -> None:
    """Ask the workers to evaluate the alert rules of a series on the bars of `[first, last]`
    (opening instants), which an import just committed."""
    span = [symbol, timeframe, first.isoformat(), last.isoformat()]
    sender.send_task(
        TASK_ALERTS_BARS,
        args=span,
        task_id=str(uuid.uuid4()),
        queue=jobs_queue(),
        headers=_request_headers(),
    )


def send_job(
    sender: TaskSender, job_id: uuid.UUID, kind: JobKind, *, task: str | None = None
) -> None:
    """Send job `job_id` to the task of its `kind` (or to `task`, a stand-in such as a test's)
    on the jobs queue: the payload is the id alone and the Celery task id is the job id. Call
    only once the job row is committed. The request being served, if any, rides along in the
    message's headers (a sweep's parts carry their parent's)."""
    sender.send_task(
        task or TASK_FOR_KIND[kind],
        args=[str(job_id)],
        task_id=str(job_id),
        queue=jobs_queue(),
        headers=_request_headers(),
    )


def _request_headers() -> dict[str, str]:
    """The request being served, if any, as message headers: worker log lines carry its id."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}

"""Send again the queued jobs that have no message: none waiting in the queue, none held by a
live worker.

A job's message can be lost: the gateway died between its commit and its send, Redis lost its
data (killed between two appends to its log), a retry found the broker away. Such a job would
stay `queued` forever. The reconciler (`worker.reconciler`) calls `Redispatcher.round` each
period; a job is sent again once it has been seen without a message on two rounds in a row,
since a message is in neither place for a moment while a worker takes it, and a job just
created may not have been sent yet. Sending a job twice is safe anyway: a delivery of a
finished job is skipped, results are keyed by job id and written once.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import orjson
from celery import Celery

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind
from velocitas.jobs import queue_lists, send_job
from worker.settings import get_worker_settings

log = logging.getLogger(__name__)

# kombu's Redis transport: the messages workers hold unacked (a hash by delivery tag, with
# the delivery times in a sorted set).
_UNACKED = "unacked"
_UNACKED_INDEX = "unacked_index"


class Redispatcher:
    """Sends orphaned queued jobs again; remembers the suspects of its last round."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self._suspects: set[uuid.UUID] = set()

    def round(self) -> list[uuid.UUID]:
        """Send the jobs found without a message now and on the previous round; their ids."""
        orphans = dict(orphaned_jobs(self.celery))
        confirmed = [job_id for job_id in orphans if job_id in self._suspects]
        self._suspects = set(orphans) - set(confirmed)
        for job_id in confirmed:
            send_job(self.celery, job_id, orphans[job_id])
        if confirmed:
            log.warning("re-sent %d queued job(s) that had no message", len(confirmed))
        return confirmed


def orphaned_jobs(celery: Celery) -> list[tuple[uuid.UUID, JobKind]]:
    """Jobs queued for longer than `WORKER_REDISPATCH_AFTER_S` whose id is neither waiting in
    the queue nor held by a worker that took it recently, oldest first."""
    settings = get_worker_settings()
    older_than = timedelta(seconds=settings.worker_redispatch_after_s)
    with session_scope() as session:
        queued = job_store.stale_queued_jobs(session, older_than=older_than)
    if not queued:
        return []
    # A worker holds a queued job's message while it waits for the database (in place, then
    # as a delayed retry); longer than that, its holder is dead (its message would come back
    # only after the visibility timeout).
    held_for = (
        settings.worker_outage_retry_s
        + settings.worker_retry_backoff_max_s
        + 2 * settings.worker_reconcile_interval_s
    )
    live = _ids_with_a_message(celery, held_for_s=held_for)
    return [(job_id, kind) for job_id, kind in queued if str(job_id) not in live]


def _ids_with_a_message(celery: Celery, *, held_for_s: float) -> set[str]:
    """Task ids waiting in the jobs queue, or held unacknowledged by a worker that took them
    less than `held_for_s` ago (kombu's Redis structures)."""
    lists = queue_lists()
    with celery.connection_for_write() as connection:
        client = connection.default_channel.client
        pipe = client.pipeline()
        for name in lists:
            pipe.lrange(name, 0, -1)
        pipe.zrangebyscore(_UNACKED_INDEX, time.time() - held_for_s, "+inf")
        *waiting, fresh_tags = pipe.execute()
        held = client.hmget(_UNACKED, fresh_tags) if fresh_tags else []
    ids = {_task_id(raw) for messages in waiting for raw in messages}
    ids |= {_task_id(raw, unacked=True) for raw in held if raw is not None}
    ids.discard(None)
    return {i for i in ids if i is not None}


def _task_id(raw: bytes, *, unacked: bool = False) -> str | None:
    try:
        message: Any = orjson.loads(raw)
        if unacked:  # stored as [message, exchange, routing key]
            message = message[0]
        return str(message["headers"]["id"])
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return None  # not a Celery message: nothing of ours

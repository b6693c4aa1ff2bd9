"""On worker start-up, send again the jobs a lost send left `queued` forever.

The gateway commits a job, then sends its id; if it dies in between, nothing will ever run the
job. When a worker becomes ready it looks for jobs queued longer than
`WORKER_REDISPATCH_AFTER_S` whose id is not waiting in the queue, and sends them again. Sending
a job twice is safe (a delivery of a finished job is skipped, results are keyed by job id), so
several workers starting at once need no coordination.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import orjson
from celery import Celery
from celery.signals import worker_ready

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.jobs import jobs_queue, send_job
from worker.app import app
from worker.settings import get_worker_settings

log = logging.getLogger(__name__)


@worker_ready.connect
def on_worker_ready(**_: Any) -> None:
    try:
        redispatch_stale_jobs(app)
    except Exception:  # a worker that cannot look still serves the queue
        log.exception("could not re-dispatch stale queued jobs")


def redispatch_stale_jobs(celery: Celery) -> list[uuid.UUID]:
    """Send every stale queued job that is not waiting in the queue; the ids sent."""
    older_than = timedelta(seconds=get_worker_settings().worker_redispatch_after_s)
    with session_scope() as session:
        stale = job_store.stale_queued_jobs(session, older_than=older_than)
    if not stale:
        return []
    waiting = _ids_in_queue(celery)
    sent = []
    for job_id, kind in stale:
        if str(job_id) in waiting:
            continue
        send_job(celery, job_id, kind)
        sent.append(job_id)
    if sent:
        log.warning("re-dispatched %d job(s) left queued without a message", len(sent))
    return sent


def _ids_in_queue(celery: Celery) -> set[str]:
    """Task ids of the messages waiting in the jobs queue (kombu's Redis list)."""
    with celery.connection_for_write() as connection:
        client = connection.default_channel.client
        messages = client.lrange(jobs_queue(), 0, -1)
    ids = set()
    for raw in messages:
        try:
            ids.add(str(orjson.loads(raw)["headers"]["id"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # not a Celery message: nothing of ours
    return ids

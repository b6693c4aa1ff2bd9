"""Sending jobs to the workers by task NAME (the gateway never imports the worker)."""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

from celery import Celery
from kombu.exceptions import OperationalError

from velocitas import copilot
from velocitas.domain.events import JobKind
from velocitas.errors import TransientError
from velocitas.ingest import ImportSummary
from velocitas.jobs import broker_url, send_job

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _producer(url: str) -> Celery:
    return Celery("velocitas-gateway", broker=url, set_as_current=False)


def enqueue(job_id: uuid.UUID, kind: JobKind) -> None:
    """Send the job's id to its task. Call only after the job row is committed."""
    try:
        send_job(_producer(broker_url()), job_id, kind)
    except OperationalError as exc:
        # The broker's error names its address (the embedded Redis's socket path): log only.
        log.warning("could not send job %s to the queue: %s", job_id, exc)
        raise TransientError("the job queue is unavailable, retry later") from exc


def announce_import(summary: ImportSummary) -> None:
    """After an import committed: have the workers evaluate the alert rules of its series
    (`velocitas.copilot.announce_import`; nothing is sent when no rule watches it)."""
    copilot.announce_import(summary, _producer(broker_url()))


def revoke(job_id: uuid.UUID) -> None:
    """Best effort: tell workers to drop the job if they have not started it. The database's
    `cancelled` status is what actually stops it."""
    try:
        _producer(broker_url()).control.revoke(str(job_id))
    except OperationalError:
        log.warning("could not broadcast the revocation of job %s", job_id, exc_info=True)

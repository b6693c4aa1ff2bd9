"""What every job task does around its work: claim, announce, record, fail readably.

`run_job` re-reads the job, skips it if it has finished (a redelivery after success, or a
cancellation), marks it running, calls the work function, writes the outcome keyed by job id
and publishes the events. Errors are sorted by what they call for: bad input fails the job at
once; a transient error is retried with exponential backoff up to `WORKER_MAX_ATTEMPTS`
deliveries; anything else fails the job with its message.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import redis
import sqlalchemy.exc
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobEvent, JobEventType, JobStatus
from velocitas.domain.trades import Trade
from velocitas.errors import InvalidRequest, TransientError
from velocitas.jobs import publish
from worker.settings import get_worker_settings
from worker.settling import settle

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.25  # progress writes and events at most this often per job


class JobCancelled(Exception):
    """The job was cancelled while it ran; the task stops without writing results."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a finished job stores: a summary, and for backtests its trades and equity curve."""

    summary: dict[str, Any]
    trades: Sequence[Trade] = ()
    equity_opened_at_ns: npt.NDArray[np.int64] | None = None
    equity: Sequence[Decimal] | npt.NDArray[np.float64] | None = None
    data_snapshot_hash: str | None = None
    engine_version: str | None = None


@dataclass
class JobContext:
    """The job as the work function sees it, with a way to report progress."""

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    spec: dict[str, Any]
    attempt: int
    parent_id: uuid.UUID | None = None
    # The job's `job.running` counts as its first report: a job shorter than the interval
    # writes no progress at all (its result write refuses a cancelled job anyway).
    _last_report: float = field(default_factory=time.monotonic, repr=False)

    def progress(self, fraction: float, *, force: bool = False) -> None:
        """Record progress in [0, 1] and publish it; raises `JobCancelled` if the job was
        cancelled. Throttled to one report per interval (counted from the job's start), so
        calling it in a tight loop is cheap; `force` reports regardless."""
        now = time.monotonic()
        if not force and now - self._last_report < _PROGRESS_INTERVAL_S:
            return
        self._last_report = now
        with transient_errors(), session_scope() as session:
            status = job_store.record_progress(session, self.id, fraction)
        if status is JobStatus.CANCELLED:
            raise JobCancelled(str(self.id))
        self.publish("job.progress", progress=fraction)

    def publish(
        self,
        type: JobEventType,
        *,
        progress: float,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        publish(JobEvent.of(self, type, progress=progress, summary=summary, error=error))


Work = Callable[[JobContext], JobOutcome]


def run_job(task: Task, job_id: str, work: Work) -> str:
    """Run `work` for the job `job_id` under the platform's rules; return what happened."""
    settings = get_worker_settings()
    with transient_errors(), session_scope() as session:
        job = job_store.mark_running(session, uuid.UUID(job_id))
        if job is None:
            finished = job_store.get_job(session, uuid.UUID(job_id))
            parent_id = finished.parent_id if finished is not None else None
        else:
            context = JobContext(
                job.id, job.owner_id, job.kind, dict(job.spec), job.attempts, job.parent_id
            )
    if job is None:
        log.info("job %s is finished or gone: skipped", job_id)
        if parent_id is not None:
            # A worker that died between finishing this child and settling its parent would
            # leave the parent waiting forever: the redelivery settles it (a no-op if done).
            settle_parent(parent_id, redelivered=True)
        return "skipped"
    if context.attempt > settings.worker_max_attempts:
        return _fail(
            context,
            f"gave up after {settings.worker_max_attempts} attempts "
            "(its worker was lost or a dependency kept failing each time)",
        )
    context.publish("job.running", progress=0.0)
    try:
        with transient_errors():
            outcome = work(context)
            with session_scope() as session:
                recorded = job_store.record_result(
                    session,
                    context.id,
                    summary=outcome.summary,
                    trades=outcome.trades,
                    equity_opened_at_ns=outcome.equity_opened_at_ns,
                    equity=outcome.equity,
                    data_snapshot_hash=outcome.data_snapshot_hash,
                    engine_version=outcome.engine_version,
                )
    except JobCancelled:
        log.info("job %s cancelled while running", job_id)
        return "cancelled"
    except InvalidRequest as exc:
        where = f"{exc.field}: " if exc.field else ""
        return _fail(context, f"{where}{exc}")
    except SoftTimeLimitExceeded:
        return _fail(
            context, f"stopped: exceeded the time limit of {settings.worker_soft_time_limit_s} s"
        )
    except TransientError as exc:
        if context.attempt >= settings.worker_max_attempts:
            return _fail(context, f"gave up after {context.attempt} attempts: {exc}")
        countdown = min(2**context.attempt, settings.worker_retry_backoff_max_s)
        log.warning("job %s: transient error, retry in ~%s s: %s", job_id, countdown, exc)
        raise task.retry(exc=exc, countdown=countdown * random.uniform(0.5, 1.0)) from exc
    except Exception as exc:
        log.exception("job %s failed", job_id)
        return _fail(context, f"internal error: {type(exc).__name__}: {exc}")
    if not recorded:
        log.info("job %s finished meanwhile (cancelled or done by another delivery)", job_id)
        return "superseded"
    context.publish("job.succeeded", progress=1.0, summary=outcome.summary)
    settle_parent(context.parent_id)
    return "succeeded"


def _fail(context: JobContext, error: str) -> str:
    with transient_errors(), session_scope() as session:
        failed = job_store.mark_failed(session, context.id, error)
    if failed:
        context.publish("job.failed", progress=0.0, error=error)
        settle_parent(context.parent_id)
    return "failed"


def settle_parent(parent_id: uuid.UUID | None, *, redelivered: bool = False) -> None:
    """A child (a sweep's run, a walk-forward's fold) of `parent_id` just finished: advance the
    parent, and finish it if this was the last child (see `worker.settling`). Safe to call
    again: a finished parent is left alone. `redelivered`: a redelivery settles again, in case
    the first settle's worker died. None (the job had no parent) does nothing."""
    if parent_id is None:
        return
    with transient_errors():
        parent = settle(parent_id, take_over=redelivered)
    if parent is None:
        return
    if parent.status == JobStatus.SUCCEEDED:
        event = JobEvent.of(parent, "job.succeeded", progress=1.0, summary=parent.result_summary)
    elif parent.status == JobStatus.FAILED:
        event = JobEvent.of(parent, "job.failed", progress=parent.progress, error=parent.error)
    else:
        event = JobEvent.of(parent, "job.progress", progress=parent.progress)
    publish(event)


@contextmanager
def transient_errors() -> Iterator[None]:
    """Translate lost connections to PostgreSQL or Redis into `TransientError`."""
    try:
        yield
    except (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        psycopg.OperationalError,
        redis.ConnectionError,
        redis.TimeoutError,
    ) as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc

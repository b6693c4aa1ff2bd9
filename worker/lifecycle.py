"""What every job task does around its work: claim, announce, record, fail readably.

`run_job` re-reads the job, skips it if it has finished (a redelivery after success, or a
cancellation), marks it running, calls the work function while a heartbeat stamps the job,
writes the outcome keyed by job id and publishes the events. Errors are sorted by what they
call for: bad input fails the job at once; a transient error inside the work is retried with
exponential backoff up to `WORKER_MAX_ATTEMPTS` deliveries; anything else fails the job with
its message.

The database calls around the work (claiming the job, recording its result or its failure,
settling its parent) are retried in place through an outage (`persist`), and past
`WORKER_OUTAGE_RETRY_S` the delivery is handed back to the queue for later (`retry_later`):
a job is never dropped because its database was away, and a worker in an outage holds its one
message instead of burning through the queue. Events and progress writes are best-effort: the
job's row is the record, and its result write is retried.
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
from typing import Any, NoReturn, TypeVar

import kombu.exceptions
import numpy as np
import numpy.typing as npt
import psycopg
import redis
import sqlalchemy.exc
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.db.reports import StoredReport, store_report
from velocitas.domain.events import JobEvent, JobEventType, JobStatus
from velocitas.domain.trades import Trade
from velocitas.errors import InvalidRequest, TransientError
from velocitas.jobs import publish
from worker.alerts import on_job_failed
from worker.heartbeat import heartbeat
from worker.settings import get_worker_settings
from worker.settling import settle
from worker.telemetry import job_ended, job_retried, job_started, queue_wait, run_time

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.25  # progress writes and events at most this often per job
_FIRST_RETRY_S = 0.25  # an outage's first retry in place; doubling up to
_MAX_RETRY_S = 4.0  # which bounds how long a worker takes to notice the database is back


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
    report: StoredReport | None = None
    """The self-contained HTML report, gzip-compressed (top-level backtests only)."""


@dataclass
class JobContext:
    """The job as the work function sees it, with a way to report progress."""

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    spec: dict[str, Any]
    attempt: int
    parent_id: uuid.UUID | None = None
    claimed_at: float = field(default_factory=time.monotonic, repr=False)
    """When this delivery claimed the job (monotonic seconds): its duration's start."""
    waited_s: float | None = field(default=None, repr=False)
    """From the job's creation to its first start, on its first delivery (else None)."""
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
        try:
            with transient_errors(), session_scope() as session:
                status = job_store.record_progress(session, self.id, fraction)
        except TransientError as exc:
            # Progress is a courtesy, like events: the work goes on, and its result write
            # (retried through the outage) refuses a job cancelled meanwhile.
            log.warning("job %s: progress not recorded: %s", self.id, exc)
            return
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
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Claim:
    """The claimed job's `context`; or, for a job that had finished (or is gone), None and
    its `parent_id` (a redelivered child still settles its parent)."""

    context: JobContext | None
    parent_id: uuid.UUID | None = None


def run_job(task: Task, job_id: str, work: Work) -> str:
    """Run `work` for the job `job_id` under the platform's rules; return what happened."""
    try:
        return _run_job(task, uuid.UUID(job_id), work)
    except TransientError as exc:
        # The database stayed away longer than the calls around the work retry in place.
        retry_later(task, exc)


def _run_job(task: Task, job_id: uuid.UUID, work: Work) -> str:
    settings = get_worker_settings()
    claim = persist(lambda: _claim(job_id), "claiming it", job_id)
    if claim.context is None:
        log.info("job %s is finished or gone: skipped", job_id)
        # A worker that died between finishing this child and settling its parent would
        # leave the parent waiting: the redelivery settles it (a no-op if done).
        settle_parent(claim.parent_id, redelivered=True)
        return "skipped"
    context = claim.context
    job_started(context.kind, context.waited_s)
    if context.attempt > settings.worker_max_attempts:
        return _fail(
            context,
            f"gave up after {settings.worker_max_attempts} attempts "
            "(its worker was lost or a dependency kept failing each time)",
        )
    context.publish("job.running", progress=0.0)
    try:
        with heartbeat(context.id):
            with transient_errors():
                outcome = work(context)
            recorded = persist(lambda: _record(context.id, outcome), "recording its result", job_id)
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
        retry_later(task, exc, attempt=context.attempt)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        return _fail(context, f"internal error: {type(exc).__name__}: {exc}")
    # Not recorded: the job finished meanwhile (cancelled, or done by another delivery), or
    # our own commit went through but its answer was lost in an outage. Either way the
    # parent is settled again: a finished parent is left alone.
    if recorded:
        job_ended(context.kind, "succeeded", time.monotonic() - context.claimed_at)
        context.publish("job.succeeded", progress=1.0, summary=outcome.summary)
    else:
        log.info("job %s finished meanwhile (cancelled or done by another delivery)", job_id)
    settle_parent(context.parent_id)
    return "succeeded" if recorded else "superseded"


def _claim(job_id: uuid.UUID) -> _Claim:
    with session_scope() as session:
        job = job_store.mark_running(session, job_id)
        if job is not None:
            return _Claim(
                JobContext(
                    job.id,
                    job.owner_id,
                    job.kind,
                    dict(job.spec),
                    job.attempts,
                    job.parent_id,
                    waited_s=queue_wait(job),
                )
            )
        finished = job_store.get_job(session, job_id)
        return _Claim(None, finished.parent_id if finished is not None else None)


def _record(job_id: uuid.UUID, outcome: JobOutcome) -> bool:
    with session_scope() as session:
        recorded = job_store.record_result(
            session,
            job_id,
            summary=outcome.summary,
            trades=outcome.trades,
            equity_opened_at_ns=outcome.equity_opened_at_ns,
            equity=outcome.equity,
            data_snapshot_hash=outcome.data_snapshot_hash,
            engine_version=outcome.engine_version,
        )
        if recorded and outcome.report is not None:
            store_report(session, job_id, outcome.report.html_gzip, outcome.report.size)
        return recorded


def _fail(context: JobContext, error: str) -> str:
    def mark_failed() -> bool:
        with session_scope() as session:
            return job_store.mark_failed(session, context.id, error)

    if persist(mark_failed, "recording its failure", context.id):
        job_ended(context.kind, "failed", time.monotonic() - context.claimed_at)
        context.publish("job.failed", progress=0.0, error=error)
        on_job_failed(context.id)
        settle_parent(context.parent_id)
    return "failed"


def settle_parent(parent_id: uuid.UUID | None, *, redelivered: bool = False) -> None:
    """A child (a sweep's run, a walk-forward's fold) of `parent_id` just finished: advance the
    parent, and finish it if this was the last child (see `worker.settling`). Safe to call
    again: a finished parent is left alone. `redelivered`: a redelivery settles again, in case
    the first settle's worker died. None (the job had no parent) does nothing."""
    if parent_id is None:
        return
    take_over = redelivered

    def settle_once() -> BacktestJob | None:
        nonlocal take_over
        try:
            return settle(parent_id, take_over=take_over)
        finally:
            # A try that failed may have claimed the settling before its database went away.
            take_over = True

    parent = persist(settle_once, "settling it", parent_id)
    if parent is None:
        return
    if parent.status == JobStatus.SUCCEEDED:
        job_ended(parent.kind, "succeeded", run_time(parent))
        event = JobEvent.of(parent, "job.succeeded", progress=1.0, summary=parent.result_summary)
    elif parent.status == JobStatus.FAILED:
        job_ended(parent.kind, "failed", run_time(parent))
        event = JobEvent.of(parent, "job.failed", progress=parent.progress, error=parent.error)
        on_job_failed(parent.id)
    else:
        event = JobEvent.of(parent, "job.progress", progress=parent.progress)
    publish(event)


def persist(call: Callable[[], T], what: str, job_id: uuid.UUID) -> T:
    """`call()`, a database call of the job path, retried in place while PostgreSQL (or Redis)
    is away: capped exponential backoff with jitter, for up to `WORKER_OUTAGE_RETRY_S`; then
    its `TransientError` is raised (and the delivery handed back: `retry_later`). The worker
    holds on to its one message meanwhile, so an outage costs no message and no attempt."""
    deadline = time.monotonic() + get_worker_settings().worker_outage_retry_s
    delay = _FIRST_RETRY_S
    while True:
        try:
            with transient_errors():
                return call()
        except TransientError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("job %s: %s failed, trying again in ~%.2f s: %s", job_id, what, delay, exc)
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _MAX_RETRY_S)


def retry_later(task: Task, exc: Exception, *, attempt: int = 0) -> NoReturn:
    """Hand the delivery back to the queue: the same job is sent again to run after a capped,
    jittered exponential delay (`attempt` deliveries so far, or the task's own retries), and
    this message is acknowledged. If the queue cannot take it either, Celery drops the
    message, and the reconciler sends the job again (`worker.reconciler`)."""
    settings = get_worker_settings()
    exponent = min(max(attempt, task.request.retries + 1), 16)
    countdown = min(2**exponent, settings.worker_retry_backoff_max_s)
    log.warning("job %s: transient error, retry in ~%s s: %s", task.request.id, countdown, exc)
    job_retried(task.name)
    raise task.retry(exc=exc, countdown=countdown * random.uniform(0.5, 1.0)) from exc


@contextmanager
def transient_errors() -> Iterator[None]:
    """Translate lost connections to PostgreSQL, Redis or the broker into `TransientError`."""
    try:
        yield
    except (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        psycopg.OperationalError,
        redis.ConnectionError,
        redis.TimeoutError,
        kombu.exceptions.OperationalError,  # the broker could not take a message
    ) as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc

"""Jobs made of child jobs (sweeps, walk-forwards): create the children once, send them.

The parent task only creates its children (keyed by their place, so a redelivered parent task
finds them again), commits, and sends the ids of the unfinished ones; each child runs on
whichever worker takes it, and the last child to finish settles the parent
(`worker.lifecycle.settle_parent`). This is a Celery chord whose join lives in PostgreSQL:
it survives redelivery and lost workers, where a chord's counter in the result backend would
not (and these workers keep no result backend).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from celery import Task
from pydantic import ValidationError
from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind, JobStatus
from velocitas.errors import InvalidRequest, TransientError
from velocitas.jobs import send_job
from velocitas.telemetry import JOBS_CREATED
from worker.alerts import on_job_failed
from worker.lifecycle import JobContext, persist, retry_later, settle_parent, transient_errors
from worker.telemetry import job_ended, job_started, queue_wait

log = logging.getLogger(__name__)

CreateChildren = Callable[[Session, BacktestJob], list[BacktestJob]]


def fan_out(task: Task, job_id: str, *, create_children: CreateChildren, child_task: str) -> str:
    """Mark the parent running, create its children, commit, then send the unfinished ones."""
    try:
        return _fan_out(
            uuid.UUID(job_id), create_children, lambda child: _send(task, child_task, child)
        )
    except TransientError as exc:
        retry_later(task, exc)


def _send(task: Task, child_task: str, child: BacktestJob) -> None:
    send_job(task.app, child.id, JobKind(child.kind), task=child_task)


def _fan_out(
    job_id: uuid.UUID,
    create_children: CreateChildren,
    send: Callable[[BacktestJob], None],
) -> str:
    expanded = persist(lambda: _claim_and_expand(job_id, create_children), "fanning out", job_id)
    if expanded is None:
        return "skipped"
    context, children, error = expanded
    job_started(context.kind, context.waited_s)
    if context.attempt == 1:  # created in this delivery's transaction (a redelivery finds them)
        for child in children:
            JOBS_CREATED.labels(child.kind).inc()
    if error is not None:
        job_ended(context.kind, "failed", time.monotonic() - context.claimed_at)
        context.publish("job.failed", progress=0.0, error=error)
        on_job_failed(context.id)
        return "failed"
    pending = [c for c in children if not JobStatus(c.status).finished]
    context.publish("job.running", progress=0.0)
    # A send the broker refuses leaves its child queued: the reconciler sends it again.
    with transient_errors():
        for child in pending:
            send(child)
    if not pending:  # redelivered after every child had finished
        settle_parent(context.id, redelivered=True)
    log.info("%s %s: %d parts, %d sent", context.kind, job_id, len(children), len(pending))
    return "fanned out"


def _claim_and_expand(
    job_id: uuid.UUID, create_children: CreateChildren
) -> tuple[JobContext, list[BacktestJob], str | None] | None:
    """In one transaction: mark the parent running and create its children (or fail it with
    the reason it cannot be expanded). None when the parent has finished or is gone."""
    with session_scope() as session:
        parent = job_store.mark_running(session, job_id)
        if parent is None:
            return None
        context = JobContext(
            parent.id,
            parent.owner_id,
            parent.kind,
            {},
            parent.attempts,
            waited_s=queue_wait(parent),
        )
        error, children = None, []
        try:
            with session.begin_nested():
                children = create_children(session, parent)
        except InvalidRequest as exc:
            where = f"{exc.field}: " if exc.field else ""
            error = f"{where}{exc}"
        except (ValidationError, KeyError, IndexError, TypeError) as exc:
            # The gateway validates before queueing; this guards rows written otherwise.
            error = f"the {parent.kind} cannot be expanded: {type(exc).__name__}: {exc}"
        if error is None and not children:
            error = f"the {parent.kind} has no parts to run"
        if error is not None:
            job_store.mark_failed(session, parent.id, error)
        return context, children, error

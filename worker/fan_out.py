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
import uuid
from collections.abc import Callable

from celery import Task
from pydantic import ValidationError
from sqlalchemy.orm import Session

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind, JobStatus
from velocitas.errors import InvalidRequest
from velocitas.jobs import send_job
from worker.lifecycle import JobContext, settle_parent, transient_errors

log = logging.getLogger(__name__)

CreateChildren = Callable[[Session, BacktestJob], list[BacktestJob]]


def fan_out(task: Task, job_id: str, *, create_children: CreateChildren, child_task: str) -> str:
    """Mark the parent running, create its children, commit, then send the unfinished ones."""
    error = None
    with transient_errors(), session_scope() as session:
        parent = job_store.mark_running(session, uuid.UUID(job_id))
        if parent is None:
            return "skipped"
        context = JobContext(parent.id, parent.owner_id, parent.kind, {}, parent.attempts)
        try:
            with session.begin_nested():
                children = create_children(session, parent)
        except InvalidRequest as exc:
            where = f"{exc.field}: " if exc.field else ""
            error = f"{where}{exc}"
        except (ValidationError, KeyError, IndexError, TypeError) as exc:
            # The gateway validates before queueing; this guards rows written otherwise.
            error = f"the {parent.kind} cannot be expanded: {type(exc).__name__}: {exc}"
        if error is not None:
            job_store.mark_failed(session, parent.id, error)
    if error is not None:
        context.publish("job.failed", progress=0.0, error=error)
        return "failed"
    pending = [c for c in children if not JobStatus(c.status).finished]
    context.publish("job.running", progress=0.0)
    with transient_errors():
        for child in pending:
            send_job(task.app, child.id, JobKind(child.kind), task=child_task)
    if not pending and children:  # redelivered after every child had finished
        settle_parent(parent.id, redelivered=True)
    log.info("%s %s: %d parts, %d sent", parent.kind, job_id, len(children), len(pending))
    return "fanned out"

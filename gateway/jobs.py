"""What every job resource (backtests, sweeps) shares: submit after commit, owner-only reads,
cancellation, keyset pages, and the documented error answers."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy.orm import Session

from gateway import queue
from gateway.schemas import ErrorBody, JobPage, JobPublic
from velocitas.db import jobs as job_store
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobEvent, JobKind, JobStatus
from velocitas.errors import InvalidRequest, NotFound
from velocitas.jobs import publish
from velocitas.structured_logs import bound
from velocitas.telemetry import JOBS_CREATED

log = logging.getLogger(__name__)

Responses = dict[int | str, dict[str, Any]]
NOT_YOURS: Responses = {404: {"model": ErrorBody, "description": "No such job (or not yours)."}}
UNAUTHENTICATED: Responses = {
    401: {"model": ErrorBody, "description": "Missing or invalid API key."}
}
SUBMITTED: Responses = {
    202: {
        "description": "Queued. `Location` names the job; watch `/ws` or poll it.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    **UNAUTHENTICATED,
    409: {"model": ErrorBody, "description": "Idempotency-Key reused for another request."},
    503: {"model": ErrorBody, "description": "The job queue is unavailable."},
}
CANCELLED: Responses = {
    **UNAUTHENTICATED,
    **NOT_YOURS,
    409: {"model": ErrorBody, "description": "The job already finished."},
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=255,
        description="Retries carrying the same key return the first job instead of a new one.",
    ),
]


def submit(
    session: Session,
    owner_id: uuid.UUID,
    kind: JobKind,
    spec: dict[str, Any],
    idempotency_key: str | None,
) -> BacktestJob:
    """Write the queued job, COMMIT, and only then send its id to the queue."""
    job, created = job_store.create_job(
        session, owner_id=owner_id, kind=kind, spec=spec, idempotency_key=idempotency_key
    )
    session.commit()
    if not created:
        return job
    JOBS_CREATED.labels(kind.value).inc()
    with bound(job_id=str(job.id)):  # this request's lines from here on name the job too
        log.info("%s job %s created", kind.value, job.id)
        # Announced before it is sent, so `job.queued` cannot arrive after the worker's
        # `job.running`.
        publish(JobEvent.of(job, "job.queued", progress=job.progress))
        try:
            queue.enqueue(job.id, kind)
        except Exception:
            # Not sent means never run: say so on the job rather than leave it queued forever.
            job_store.mark_failed(session, job.id, "could not be queued; submit it again")
            session.commit()
            publish(JobEvent.of(job, "job.failed", progress=job.progress))
            raise
    return job


def owned_job(
    session: Session, job_id: uuid.UUID, owner_id: uuid.UUID, kind: JobKind
) -> BacktestJob:
    """The caller's job of this kind, or 404 (whether it is missing or someone else's)."""
    job = job_store.get_job_for_owner(session, job_id, owner_id)
    if job is None or job.kind != kind.value:
        raise NotFound(f"no job {job_id}")
    return job


def cancel(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID, kind: JobKind) -> BacktestJob:
    owned_job(session, job_id, owner_id, kind)
    job = job_store.cancel_job(session, job_id, owner_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    session.commit()
    queue.revoke(job.id)
    publish(JobEvent.of(job, "job.cancelled", progress=job.progress))
    return job


def list_page(
    session: Session,
    owner_id: uuid.UUID,
    kind: JobKind,
    status_: JobStatus | None,
    limit: int,
    cursor: str | None,
    parent_id: uuid.UUID | None = None,
) -> JobPage:
    """One newest-first page of the owner's jobs; `next_cursor` is null on the last page."""
    jobs = job_store.list_jobs(
        session,
        owner_id,
        kinds=[kind],
        status=status_,
        limit=limit + 1,  # one more tells whether another page exists
        after=decode_cursor(cursor),
        parent_id=parent_id,
    )
    next_cursor = encode_cursor(jobs[limit - 1]) if len(jobs) > limit else None
    return JobPage(items=[job_public(j) for j in jobs[:limit]], next_cursor=next_cursor)


def job_public(job: BacktestJob) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=JobKind(job.kind),
        status=JobStatus(job.status),
        progress=job.progress,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        spec=job.spec,
        summary=job.result_summary,
        data_snapshot_hash=job.data_snapshot_hash,
        engine_version=job.engine_version,
        parent_id=job.parent_id,
    )


def encode_cursor(job: BacktestJob) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> job_store.Cursor | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = raw.split("|")
        return job_store.Cursor(datetime.fromisoformat(created_at), uuid.UUID(job_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("not a cursor from this API", field="query.cursor") from exc

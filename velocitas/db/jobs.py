"""Persistence of jobs and their results. Every read a user can trigger filters by owner.

The gateway calls `create_job`, `get_job_for_owner`, `list_jobs`, `cancel_job`, `list_trades`,
`list_equity`; the worker calls `mark_running`, `beat`, `record_progress`, `record_result`,
`mark_failed`, which take a job id alone because the worker acts for whoever owns the job, and
its reconciler `stale_queued_jobs`, `requeue_stalled_jobs`, `unsettled_parents`.
Worker-side writes are conditional on the job not being finished, so a redelivered or late task
can never overwrite a cancellation or a result that another delivery already recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter, call
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Column, delete, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from velocitas.db.equity_copy import client_encodable, copy_equity_chunks
from velocitas.db.models import BacktestJob, BacktestTrade, EquityChunk
from velocitas.db.models.jobs import EQUITY_CHUNK_POINTS
from velocitas.db.pgbinary import COPY_HEADER, COPY_TRAILER, PG_EPOCH_US
from velocitas.domain.bars import from_epoch_ns
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.trades import Trade
from velocitas.errors import Conflict

__all__ = [
    "TRADE_COLUMNS",
    "Backlog",
    "Cursor",
    "EquityPoint",
    "backlog",
    "beat",
    "cancel_job",
    "claim_settling",
    "create_job",
    "get_job",
    "get_job_for_owner",
    "list_equity",
    "list_jobs",
    "list_trades",
    "mark_failed",
    "mark_running",
    "record_progress",
    "record_result",
    "requeue_stalled_jobs",
    "stale_queued_jobs",
    "unsettled_parents",
]

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


TRADE_COLUMNS = tuple(c.name for c in BacktestTrade.__table__.columns if not c.primary_key)
"""The `velocitas.domain.Trade` fields a stored trade keeps, in the table's column order (after
its key, `job_id` and `seq`): read from the table, so the COPY below and the API follow it."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a newest-first page of jobs stopped: the last job's creation time and id."""

    created_at: datetime
    id: uuid.UUID


def create_job(
    session: Session,
    *,
    owner_id: uuid.UUID,
    kind: JobKind,
    spec: dict[str, Any],
    idempotency_key: str | None = None,
    parent_id: uuid.UUID | None = None,
) -> tuple[BacktestJob, bool]:
    """Insert a queued job; return it and whether it is new.

    With an `idempotency_key` already used by this owner, return the first job instead (even
    under concurrent retries: the unique constraint decides). Reusing a key for a different
    request raises `Conflict`.
    """
    values = {
        "id": uuid.uuid4(),
        "owner_id": owner_id,
        "kind": kind.value,
        "spec": spec,
        "status": JobStatus.QUEUED.value,
        "progress": 0.0,
        "attempts": 0,
        "idempotency_key": idempotency_key,
        "parent_id": parent_id,
    }
    statement = insert(BacktestJob).values(**values)
    if idempotency_key is not None:
        statement = statement.on_conflict_do_nothing(constraint="uq_backtest_job_owner_idempotency")
    inserted = session.execute(statement.returning(BacktestJob.id)).scalar_one_or_none()
    if inserted is not None:
        return session.get_one(BacktestJob, inserted), True
    first = session.execute(
        select(BacktestJob).where(
            BacktestJob.owner_id == owner_id, BacktestJob.idempotency_key == idempotency_key
        )
    ).scalar_one()
    if first.kind != kind.value or first.spec != spec:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was already used for a different request"
        )
    return first, False


def get_job_for_owner(
    session: Session, job_id: uuid.UUID, owner_id: uuid.UUID
) -> BacktestJob | None:
    """The job if it exists AND belongs to `owner_id`; None otherwise (callers answer 404)."""
    return session.execute(
        select(BacktestJob).where(BacktestJob.id == job_id, BacktestJob.owner_id == owner_id)
    ).scalar_one_or_none()


def get_job(session: Session, job_id: uuid.UUID) -> BacktestJob | None:
    """The job whoever owns it: for workers only, which act on the owner's behalf."""
    return session.get(BacktestJob, job_id, populate_existing=True)


def list_jobs(
    session: Session,
    owner_id: uuid.UUID,
    *,
    kinds: Sequence[JobKind] | None = None,
    status: JobStatus | None = None,
    limit: int = 50,
    after: Cursor | None = None,
    parent_id: uuid.UUID | None = None,
) -> list[BacktestJob]:
    """The owner's top-level jobs (or `parent_id`'s parts), newest first, `limit` at most,
    starting after `after` (keyset pagination: stable while new jobs arrive)."""
    query = select(BacktestJob).where(BacktestJob.owner_id == owner_id)
    query = query.where(
        BacktestJob.parent_id.is_(None) if parent_id is None else BacktestJob.parent_id == parent_id
    )
    if kinds:
        query = query.where(BacktestJob.kind.in_([k.value for k in kinds]))
    if status is not None:
        query = query.where(BacktestJob.status == status.value)
    if after is not None:
        query = query.where(
            func.row(BacktestJob.created_at, BacktestJob.id) < func.row(after.created_at, after.id)
        )
    query = query.order_by(BacktestJob.created_at.desc(), BacktestJob.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def cancel_job(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID) -> BacktestJob | None:
    """Cancel the owner's queued or running job (and its parts); None if not theirs.

    Raises `Conflict` if the job already finished. A running task sees the flag at its next
    progress point and stops.
    """
    job = session.execute(
        select(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.owner_id == owner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if job is None:
        return None
    if JobStatus(job.status).finished:
        raise Conflict(f"job {job_id} already {job.status}; only queued or running jobs cancel")
    now = datetime.now(UTC)
    session.execute(
        update(BacktestJob)
        .where(BacktestJob.parent_id == job_id, BacktestJob.status.in_(_UNFINISHED))
        .values(status=JobStatus.CANCELLED.value, finished_at=now)
    )
    job.status = JobStatus.CANCELLED.value
    job.finished_at = now
    session.flush()
    return job


@dataclass(frozen=True, slots=True)
class Backlog:
    """The unfinished jobs of one kind and status: how many, and the age of the oldest."""

    kind: str
    status: str
    count: int
    oldest_age_s: float


def backlog(session: Session) -> list[Backlog]:
    """The queued and running jobs by kind and status (the partial index of unfinished jobs
    serves it: one scan of what is waiting, not of the history)."""
    age = func.extract("epoch", func.now() - func.min(BacktestJob.created_at))
    rows = session.execute(
        select(BacktestJob.kind, BacktestJob.status, func.count(), age)
        .where(BacktestJob.status.in_(_UNFINISHED))
        .group_by(BacktestJob.kind, BacktestJob.status)
    )
    return [Backlog(kind, status, int(n), max(float(a), 0.0)) for kind, status, n, a in rows]


def stale_queued_jobs(
    session: Session, *, older_than: timedelta, limit: int = 1000
) -> list[tuple[uuid.UUID, JobKind]]:
    """Jobs still `queued` that were created more than `older_than` ago, oldest first: those a
    crash between the commit and the send may have left out of the queue."""
    rows = session.execute(
        select(BacktestJob.id, BacktestJob.kind)
        .where(
            BacktestJob.status == JobStatus.QUEUED.value,
            BacktestJob.created_at < datetime.now(UTC) - older_than,
        )
        .order_by(BacktestJob.created_at)
        .limit(limit)
    )
    return [(job_id, JobKind(kind)) for job_id, kind in rows]


def requeue_stalled_jobs(
    session: Session, *, stale_after: timedelta, limit: int = 1000
) -> list[tuple[uuid.UUID, JobKind]]:
    """Put back to `queued` every running job whose worker's heartbeat is older than
    `stale_after` (its worker died), and return them to be sent again.

    One conditional UPDATE: of two reconcilers racing, only one gets each job back (the other
    finds it queued already), so a lost job is re-sent once. Parents waiting for their
    children are left out: no worker beats for them (`unsettled_parents` looks after those).
    The next delivery's `mark_running` counts the attempt."""
    child = aliased(BacktestJob)
    stalled = (
        select(BacktestJob.id)
        .where(
            BacktestJob.status == JobStatus.RUNNING.value,
            func.coalesce(BacktestJob.heartbeat_at, BacktestJob.started_at)
            < func.now() - stale_after,
            ~exists().where(child.parent_id == BacktestJob.id),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(BacktestJob)
        .where(BacktestJob.id.in_(stalled), BacktestJob.status == JobStatus.RUNNING.value)
        .values(status=JobStatus.QUEUED.value)
        .returning(BacktestJob.id, BacktestJob.kind)
    )
    return [(job_id, JobKind(kind)) for job_id, kind in rows]


def unsettled_parents(
    session: Session, *, idle_for: timedelta, limit: int = 100
) -> list[uuid.UUID]:
    """Running parents (sweeps, walk-forwards) whose children have all finished, the last one
    more than `idle_for` ago, and which are still not settled: the child that should have
    settled them lost its worker, or its database, in between."""
    child = aliased(BacktestJob)
    unfinished_child = exists().where(
        child.parent_id == BacktestJob.id, child.status.in_(_UNFINISHED)
    )
    last_finished = (
        select(func.max(child.finished_at))
        .where(child.parent_id == BacktestJob.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(BacktestJob.id)
        .where(
            BacktestJob.status == JobStatus.RUNNING.value,
            exists().where(child.parent_id == BacktestJob.id),
            ~unfinished_child,
            last_finished < func.now() - idle_for,
        )
        .limit(limit)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class Settling:
    """An unfinished parent job, locked, with its children: what a finishing child settles."""

    parent: BacktestJob
    children: list[BacktestJob]

    @property
    def finished_children(self) -> int:
        return sum(JobStatus(child.status).finished for child in self.children)

    @property
    def complete(self) -> bool:
        """Every child has finished (and there is at least one)."""
        return bool(self.children) and self.finished_children == len(self.children)


def lock_for_settling(session: Session, parent_id: uuid.UUID) -> Settling | None:
    """The parent row locked FOR UPDATE, so two children finishing at once settle one after the
    other (exactly one of them sees every child finished), and its children. None when the
    parent is gone or already finished."""
    parent = session.execute(
        select(BacktestJob)
        .where(BacktestJob.id == parent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if parent is None or JobStatus(parent.status).finished:
        return None
    children = session.execute(select(BacktestJob).where(BacktestJob.parent_id == parent_id))
    return Settling(parent, list(children.scalars()))


def advance_parent_progress(session: Session, settling: Settling, *, share: float = 1.0) -> None:
    """Raise the parent's progress to `share` times the fraction of children finished."""
    parent, total = settling.parent, max(len(settling.children), 1)
    parent.progress = max(parent.progress, share * settling.finished_children / total)
    session.flush()


def claim_settling(
    session: Session, parent_id: uuid.UUID, *, share: float = 1.0, take_over: bool = False
) -> Settling | None:
    """A child of `parent_id` finished: under the parent's row lock, raise its progress (to
    `share` of the children finished) and decide whether this call settles it.

    Returns the `Settling` (commit, then finish the parent outside the lock and record its
    result with `record_result` or `mark_failed`): `complete` when this call claimed the
    settling, else only the advanced progress. None when there is nothing to do: the parent is
    gone or finished, or another call claimed the settling already. The claim is the parent's
    progress at `share` with every child finished, so exactly one of several children finishing
    at once claims it; `take_over` claims it again, for a redelivered settle whose claimer may
    have died (the conditional result write still records one result)."""
    settling = lock_for_settling(session, parent_id)
    if settling is None:
        return None
    if settling.complete and settling.parent.progress >= share and not take_over:
        return None
    advance_parent_progress(session, settling, share=share)
    return settling


def mark_running(session: Session, job_id: uuid.UUID) -> BacktestJob | None:
    """Claim the job for this delivery: status running, one more attempt. None when the job
    is gone or already finished (a redelivery after success, or a cancellation): skip it."""
    # One conditional UPDATE (the row lock it takes serialises racing deliveries) instead of
    # a locking read and a write: one round trip less on every job's critical path.
    return session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.status.in_(_UNFINISHED))
        .values(
            status=JobStatus.RUNNING.value,
            attempts=BacktestJob.attempts + 1,
            started_at=func.coalesce(BacktestJob.started_at, datetime.now(UTC)),
            heartbeat_at=func.now(),
        )
        .returning(BacktestJob)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def beat(session: Session, job_id: uuid.UUID) -> bool:
    """Stamp the running job's heartbeat (the database's clock, shared by every worker and
    the reconciler); False when the job is no longer running."""
    beaten = session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.status == JobStatus.RUNNING.value)
        .values(heartbeat_at=func.now())
        .returning(BacktestJob.id)
    ).scalar_one_or_none()
    return beaten is not None


def record_progress(session: Session, job_id: uuid.UUID, progress: float) -> JobStatus:
    """Store progress (never backwards) and return the job's status, so the caller sees a
    cancellation at its next progress point."""
    progress = min(max(progress, 0.0), 1.0)
    status = session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.status == JobStatus.RUNNING.value)
        .values(progress=func.greatest(BacktestJob.progress, progress))
        .returning(BacktestJob.status)
    ).scalar_one_or_none()
    if status is None:
        status = session.execute(
            select(BacktestJob.status).where(BacktestJob.id == job_id)
        ).scalar_one_or_none()
    return JobStatus(status or JobStatus.CANCELLED)


def record_result(
    session: Session,
    job_id: uuid.UUID,
    *,
    summary: dict[str, Any],
    trades: Iterable[Trade] = (),
    equity_opened_at_ns: npt.NDArray[np.int64] | None = None,
    equity: Sequence[Decimal] | npt.NDArray[np.float64] | None = None,
    data_snapshot_hash: str | None = None,
    engine_version: str | None = None,
) -> bool:
    """Replace the job's results and mark it succeeded, in the caller's transaction.

    Returns False (writing nothing) if the job finished meanwhile: cancelled, or completed by
    another delivery of the same task. Results are keyed by (job_id, seq), so writing them twice
    leaves one set.
    """
    # The conditional UPDATE comes first: it locks the row against a racing delivery or a
    # cancellation, and if it matches nothing, nothing is written.
    done = session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.status.in_(_UNFINISHED))
        .values(
            status=JobStatus.SUCCEEDED.value,
            progress=1.0,
            finished_at=datetime.now(UTC),
            result_summary=summary,
            error=None,
            data_snapshot_hash=data_snapshot_hash,
            engine_version=engine_version,
        )
        .returning(BacktestJob.id)
    ).scalar_one_or_none()
    if done is None:
        return False
    session.execute(delete(BacktestTrade).where(BacktestTrade.job_id == job_id))
    session.execute(delete(EquityChunk).where(EquityChunk.job_id == job_id))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        with cursor.copy(_COPY_TRADES) as copy:
            copy.write(
                "".join(_trade_line(f"{job_id}\t{seq}\t", t) for seq, t in enumerate(trades))
            )
        if equity_opened_at_ns is not None and equity is not None:
            _write_equity(cursor, job_id, equity_opened_at_ns, equity)
    return True


def mark_failed(session: Session, job_id: uuid.UUID, error: str) -> bool:
    """Mark an unfinished job failed with a readable `error`; False if it had finished."""
    done = session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job_id, BacktestJob.status.in_(_UNFINISHED))
        .values(status=JobStatus.FAILED.value, error=error, finished_at=datetime.now(UTC))
        .returning(BacktestJob.id)
    ).scalar_one_or_none()
    return done is not None


def list_trades(
    session: Session, job_id: uuid.UUID, owner_id: uuid.UUID, *, after: int = -1, limit: int = 100
) -> list[BacktestTrade]:
    """The owner's job's trades with seq > `after`, in order, `limit` at most."""
    return list(
        session.execute(
            select(BacktestTrade)
            .join(BacktestJob, BacktestJob.id == BacktestTrade.job_id)
            .where(
                BacktestTrade.job_id == job_id,
                BacktestJob.owner_id == owner_id,
                BacktestTrade.seq > after,
            )
            .order_by(BacktestTrade.seq)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Account equity (exact NUMERIC) at the bar opened at `opened_at`, the job's `seq`-th."""

    seq: int
    opened_at: datetime
    equity: Decimal


def list_equity(
    session: Session, job_id: uuid.UUID, owner_id: uuid.UUID, *, after: int = -1, limit: int = 1000
) -> list[EquityPoint]:
    """The owner's job's equity points with seq > `after`, in order, `limit` at most."""
    first = max(after + 1, 0)
    rows = session.execute(
        text(
            "SELECT c.chunk * :size + p.i - 1 AS seq, p.opened_at, p.equity"
            " FROM equity_chunk c JOIN backtest_job j ON j.id = c.job_id,"
            " unnest(c.opened_at, c.equity) WITH ORDINALITY AS p(opened_at, equity, i)"
            " WHERE c.job_id = :job_id AND j.owner_id = :owner_id"
            " AND c.chunk BETWEEN :first_chunk AND :last_chunk"
            " AND c.chunk * :size + p.i - 1 >= :first"
            " ORDER BY seq LIMIT :limit"
        ),
        {
            "size": EQUITY_CHUNK_POINTS,
            "job_id": job_id,
            "owner_id": owner_id,
            "first_chunk": first // EQUITY_CHUNK_POINTS,
            "last_chunk": (first + max(limit, 0)) // EQUITY_CHUNK_POINTS,
            "first": first,
            "limit": limit,
        },
    )
    return [EquityPoint(int(seq), at, value) for seq, at, value in rows]


def _copy_text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_format(column: Column[Any]) -> Callable[[Any], str]:
    """How a value of `column` is written in COPY's text format."""
    python_type = column.type.python_type
    if python_type is str:
        return _copy_text
    if python_type is datetime:
        return datetime.isoformat
    return str  # int and Decimal print as PostgreSQL reads them


_COPY_TRADES = f"COPY backtest_trade (job_id, seq, {', '.join(TRADE_COLUMNS)}) FROM STDIN"
_trade_values = attrgetter(*TRADE_COLUMNS)
_trade_formats = tuple(_copy_format(BacktestTrade.__table__.columns[c]) for c in TRADE_COLUMNS)


def _trade_line(key: str, trade: Trade) -> str:
    # COPY's text format written directly: a few times faster than `write_row`'s adapters.
    return key + "\t".join(map(call, _trade_formats, _trade_values(trade))) + "\n"


def _write_equity(
    cursor: Any,
    job_id: uuid.UUID,
    opened_at_ns: npt.NDArray[np.int64],
    equity: Sequence[Decimal] | npt.NDArray[np.float64],
) -> None:
    if len(opened_at_ns) != len(equity):
        raise ValueError(f"{len(opened_at_ns)} equity instants but {len(equity)} equity values")
    if not isinstance(equity, np.ndarray):
        with cursor.copy("COPY equity_chunk (job_id, chunk, opened_at, equity) FROM STDIN") as copy:
            for chunk, first in enumerate(range(0, len(equity), EQUITY_CHUNK_POINTS)):
                last = first + EQUITY_CHUNK_POINTS
                stamps = [from_epoch_ns(int(at_ns)) for at_ns in opened_at_ns[first:last]]
                copy.write_row((job_id, chunk, stamps, list(equity[first:last])))
        return
    if not client_encodable(equity):
        _write_equity_by_cast(cursor, job_id, opened_at_ns, equity)
        return
    # A float64 curve goes in as one binary COPY of whole chunks, each value already the exact
    # NUMERIC of its shortest round-trip decimal (see velocitas.db.equity_copy): the server only
    # stores the arrays, which leaves its CPU to the other jobs.
    stream = copy_equity_chunks(job_id, opened_at_ns, equity, EQUITY_CHUNK_POINTS)
    with cursor.copy(
        "COPY equity_chunk (job_id, chunk, opened_at, equity) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(stream)


_STAGE_ROW = np.dtype(
    [("fields", ">i2"), ("seq_len", ">i4"), ("seq", ">i4"), ("at_len", ">i4"), ("at", ">i8"),
     ("equity_len", ">i4"), ("equity", ">f8")]
)  # fmt: skip


def _write_equity_by_cast(
    cursor: Any,
    job_id: uuid.UUID,
    opened_at_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
) -> None:
    # The server's own cast, for curves the client encoder leaves to it: one binary COPY into
    # a staging table, then float8 -> text -> NUMERIC, which PostgreSQL (12+, with
    # extra_float_digits = 1) prints as the shortest decimal reading back as the same float:
    # exact, where a direct float8 -> numeric cast keeps only 15 digits.
    rows = np.empty(len(equity), dtype=_STAGE_ROW)
    rows["fields"], rows["seq_len"], rows["at_len"], rows["equity_len"] = 3, 4, 8, 8
    rows["seq"] = np.arange(len(equity))
    rows["at"] = np.asarray(opened_at_ns, dtype=np.int64) // 1000 - PG_EPOCH_US
    rows["equity"] = equity
    cursor.execute(
        "CREATE TEMP TABLE equity_stage (seq int4, opened_at timestamptz, equity float8)"
        " ON COMMIT DROP"
    )
    with cursor.copy("COPY equity_stage FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER + rows.tobytes() + COPY_TRAILER)
    cursor.execute("SET LOCAL extra_float_digits = 1")
    cursor.execute(
        "INSERT INTO equity_chunk (job_id, chunk, opened_at, equity)"
        " SELECT %s, seq / %s, array_agg(opened_at ORDER BY seq),"
        " array_agg(equity::text::numeric ORDER BY seq) FROM equity_stage GROUP BY 2",
        (job_id, EQUITY_CHUNK_POINTS),
    )
    cursor.execute("DROP TABLE equity_stage")

"""Jobs: backtests, sweeps and walk-forwards, with their trades and equity curves.

Trades and equity points are keyed by (job_id, seq): a redelivered task replaces a job's
results in one transaction instead of adding a second copy.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base, Money
from velocitas.domain.events import JobKind, JobStatus

JOB_KINDS = tuple(kind.value for kind in JobKind)
JOB_STATUSES = tuple(status.value for status in JobStatus)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class BacktestJob(Base):
    """One unit of asynchronous work owned by a user (the parts of a sweep or a walk-forward
    have a `parent_id`)."""

    __tablename__ = "backtest_job"
    __table_args__ = (
        CheckConstraint(_one_of("kind", JOB_KINDS), name="kind"),
        CheckConstraint(_one_of("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        # A retried POST with the same Idempotency-Key finds the first job (NULLs are distinct).
        UniqueConstraint("owner_id", "idempotency_key", name="uq_backtest_job_owner_idempotency"),
        # Serves "my jobs, newest first" (scanned backwards) with keyset pagination.
        Index("ix_backtest_job_owner_created", "owner_id", "created_at", "id"),
        # The workers' reconciler scans the unfinished jobs only (migration 0009).
        Index(
            "ix_backtest_job_unfinished",
            "status",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Stamped by the worker running the job, every few seconds; a stale one means the
    worker is gone (`worker.reconciler`)."""
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    result_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    data_snapshot_hash: Mapped[str | None] = mapped_column(String(64))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("backtest_job.id", ondelete="CASCADE"), index=True
    )


class BacktestTrade(Base):
    """One closed round trip of a finished job: a `velocitas.domain.Trade` without its bar
    indices, keyed by (job_id, seq); money columns are exact NUMERIC. The COPY that writes it
    and the API's `TradePublic` read these columns (`velocitas.db.jobs.TRADE_COLUMNS`)."""

    __tablename__ = "backtest_trade"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("backtest_job.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    leg: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Money)
    entry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entry_price: Mapped[Decimal] = mapped_column(Money)
    exit_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exit_price: Mapped[Decimal] = mapped_column(Money)
    gross_pnl: Mapped[Decimal] = mapped_column(Money)
    fees: Mapped[Decimal] = mapped_column(Money)
    net_pnl: Mapped[Decimal] = mapped_column(Money)
    exit_reason: Mapped[str] = mapped_column(String(16))


EQUITY_CHUNK_POINTS = 4096
"""Equity points per `equity_chunk` row: point `seq` lives in chunk `seq // EQUITY_CHUNK_POINTS`."""


class EquityChunk(Base):
    """Account equity at consecutive bars of a finished job, `EQUITY_CHUNK_POINTS` per row.

    One row per point cost a tuple and an index entry each (100,000 of them for a 100,000-bar
    job, about half a second to store); arrays keep the values exact NUMERIC at a fraction of it.
    The arrays are stored uncompressed (`STORAGE EXTERNAL`, migration 0007): compressing them
    cost the server more CPU than everything else in storing a result.
    """

    __tablename__ = "equity_chunk"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("backtest_job.id", ondelete="CASCADE"), primary_key=True
    )
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_at: Mapped[list[datetime]] = mapped_column(ARRAY(DateTime(timezone=True)))
    equity: Mapped[list[Decimal]] = mapped_column(ARRAY(Numeric()))


class BacktestReport(Base):
    """A finished backtest's self-contained HTML report (`velocitas.report.render_html`),
    gzip-compressed as the gateway serves it; `size` is the page's uncompressed length.

    One row per top-level backtest (a sweep's runs have none): the page inlines plotly.js, so
    even a small result's report is about 1.4 MB compressed.
    """

    __tablename__ = "backtest_report"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("backtest_job.id", ondelete="CASCADE"), primary_key=True
    )
    html_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

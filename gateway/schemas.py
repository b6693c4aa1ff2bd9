"""Response schemas of the job routes. Money is a decimal string in JSON, never a float."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from velocitas.jobs import JobKind, JobStatus


class BacktestAccepted(BaseModel):
    """The answer to a submission: the job's id and status; `Location` points at it."""

    id: uuid.UUID
    status: JobStatus


class JobPublic(BaseModel):
    """A job: status, progress and timings; once succeeded, `summary` holds the report."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: JobKind
    status: JobStatus
    progress: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    spec: dict[str, Any]
    summary: dict[str, Any] | None
    data_snapshot_hash: str | None
    engine_version: str | None
    parent_id: uuid.UUID | None


class JobPage(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class TradePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    leg: int
    symbol: str
    strategy: str
    side: str
    quantity: Decimal
    entry_at: datetime
    entry_price: Decimal
    exit_at: datetime
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    exit_reason: str


class TradePage(BaseModel):
    items: list[TradePublic]
    next_after: int | None
    """Pass as `after` for the next page; null on the last page."""


class EquityPointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    opened_at: datetime
    equity: Decimal


class EquityPage(BaseModel):
    items: list[EquityPointPublic]
    next_after: int | None
    """Pass as `after` for the next page; null on the last page."""

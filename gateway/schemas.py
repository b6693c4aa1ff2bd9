"""The gateway's request and response bodies. Money is a decimal string in JSON, never a float."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from velocitas.domain.timeframe import Timeframe
from velocitas.engine.spec import BacktestSpec
from velocitas.engine.sweep import Objective
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


class ErrorBody(BaseModel):
    """Every 4xx/5xx the gateway answers on purpose: `detail` says what went wrong."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A bad parameter, in FastAPI's validation error shape (the routes' own checks answer in
    the same shape, so clients parse one format)."""

    detail: list[ValidationIssue]


class SweepCreate(BaseModel):
    """A sweep: `base` backtest, `grid` of values for `legs[leg]`'s strategy parameters,
    ranked by the metric `rank_by` (highest first unless `descending` is false)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    leg: int = Field(default=0, ge=0)
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    rank_by: str = Field(default="sharpe", min_length=1)
    descending: bool = True


class WalkForwardCreate(BaseModel):
    """A walk-forward of `base` (one leg, the whole range): each fold sweeps `grid` on its
    in-sample window (`in_sample`, e.g. "30d"), ranks by `objective` under `min_trades` and
    `max_drawdown` (a fraction), and trades the best out of sample (`out_of_sample`, e.g. "7d");
    `anchored` grows the in-sample window from the start instead of rolling it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    in_sample: str = Field(min_length=2, max_length=16, examples=["30d"])
    out_of_sample: str = Field(min_length=2, max_length=16, examples=["7d"])
    anchored: bool = False
    objective: Objective = "sharpe"
    min_trades: int = Field(default=0, ge=0)
    max_drawdown: float | None = Field(default=None, gt=0, le=1)
    random: int | None = Field(default=None, ge=1, le=1000)
    seed: int = 0


class GapPublic(BaseModel):
    first_missing: str
    last_missing: str
    missing: int


class RowProblemPublic(BaseModel):
    """One refused value: 1-based data row (the header is not counted), column, reason."""

    row: int
    column: str
    reason: str


class BarImportPublic(BaseModel):
    """What the upload did; see `velocitas.ingest.ImportSummary`."""

    symbol: str
    timeframe: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    first_opened_at: str | None
    last_opened_at: str | None
    missing_bars: int
    gap_count: int
    gaps: list[GapPublic]
    problems: list[RowProblemPublic]


class InvalidUploadPublic(BaseModel):
    """The file was refused and nothing was stored: the first problems and the bad-row count."""

    detail: list[RowProblemPublic]
    invalid_rows: int
    message: str


class CandlePublic(BaseModel):
    """One candle; prices and volume are exact decimal strings, never floats."""

    opened_at: str
    open: str
    high: str
    low: str
    close: str
    volume: str


class HistoryPublic(BaseModel):
    symbol: str
    timeframe: Timeframe
    candles: list[CandlePublic]


class SeriesPublic(BaseModel):
    symbol: str
    timeframes: list[str]


class HistoryNotFoundDetail(BaseModel):
    message: str
    available: list[SeriesPublic]


class HistoryNotFound(BaseModel):
    detail: HistoryNotFoundDetail

"""The gateway's request and response bodies. Money is a decimal string in JSON, never a float."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from velocitas.db.jobs import TRADE_COLUMNS
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.timeframe import Timeframe
from velocitas.domain.trades import Trade
from velocitas.engine.spec import BacktestSpec
from velocitas.research.objectives import ObjectiveFields, ObjectiveName
from velocitas.research.tournament_spec import TournamentSpec

_Model = TypeVar("_Model", bound=BaseModel)


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


def _with_stored_trade_fields(model: type[_Model]) -> type[_Model]:
    """`model` followed by the fields a stored trade keeps, typed as `velocitas.domain.Trade`
    declares them: the trade's API shape is the domain's, never a copy of it."""
    types = get_type_hints(Trade)
    fields: dict[str, Any] = {name: (types[name], ...) for name in TRADE_COLUMNS}
    return create_model(model.__name__, __base__=model, __module__=model.__module__, **fields)


@_with_stored_trade_fields
class TradePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int


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


_DEPRECATED = "Deprecated: accepted for one release"


class SweepCreate(ObjectiveFields):
    """A sweep: `base` backtest, `grid` of values for `legs[leg]`'s strategy parameters,
    ranked by the report metric `objective` (highest first unless `direction` is `minimize`)
    over the runs with at least `min_trades` trades and a maximum drawdown of at most
    `max_drawdown` (a fraction).

    Deprecated, accepted for one release: `rank_by` (use `objective`) and `descending` (use
    `direction`: true is `maximize`, false `minimize`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    leg: int = Field(default=0, ge=0)
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    rank_by: str | None = Field(
        default=None, min_length=1, deprecated=True, description=f"{_DEPRECATED}: use objective"
    )
    descending: bool | None = Field(
        default=None, deprecated=True, description=f"{_DEPRECATED}: use direction"
    )


class WalkForwardCreate(ObjectiveFields):
    """A walk-forward of `base` (one leg, the whole range): each fold sweeps `grid` on its
    in-sample window (`in_sample`, e.g. "30d"), ranks by `objective` in `direction` under
    `min_trades` and `max_drawdown` (a fraction), and trades the best out of sample
    (`out_of_sample`, e.g. "7d"); `anchored` grows the in-sample window from the start instead
    of rolling it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: BacktestSpec
    grid: dict[str, list[Any]] = Field(min_length=1, max_length=8)
    in_sample: str = Field(min_length=2, max_length=16, examples=["30d"])
    out_of_sample: str = Field(min_length=2, max_length=16, examples=["7d"])
    anchored: bool = False
    objective: ObjectiveName = "sharpe"
    random: int | None = Field(default=None, ge=1, le=1000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


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


class AlertRulePublic(BaseModel):
    """A stored alert rule: `spec` is the rule as checked (its `kind`, series and settings)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    symbol: str | None
    timeframe: str | None
    spec: dict[str, Any]
    webhook_url: str | None
    created_at: datetime


class AlertPublic(BaseModel):
    """One alert: the rule that raised it, the bar (or job) it is about, what it says; whether
    its owner acknowledged it and how its webhook delivery went (`delivery` null: no webhook).
    Numbers in `details` are strings (a level is the exact decimal the rule was given)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    kind: str
    symbol: str | None
    timeframe: str | None
    bar_opened_at: datetime | None
    job_id: uuid.UUID | None
    message: str
    details: dict[str, Any]
    raised_at: datetime
    acknowledged_at: datetime | None
    delivery: str | None
    delivery_attempts: int
    delivery_error: str | None


class AlertPage(BaseModel):
    items: list[AlertPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class TournamentCreate(TournamentSpec):
    """A tournament: `strategies` (names, or `{name, params, grid}` with a small grid swept in
    sample inside each fold) x `symbols` x `timeframes` over [start, end), walked forward over
    `folds` folds and ranked by the out-of-sample `objective`; each entry's Sharpe ratio is
    deflated for the number of trials (`dsr_threshold`) and the probability of backtest
    overfitting is measured by CSCV over `cscv_blocks` blocks. See docs/research.md."""


class TournamentRankingPublic(BaseModel):
    """Entries of a succeeded tournament, best first by the out-of-sample objective: each with
    its out-of-sample metrics, in-sample objective and degradation, deflated Sharpe ratio and
    folds; and the tournament's deflation and overfitting figures."""

    tournament_id: uuid.UUID
    objective: str
    items: list[dict[str, Any]]
    deflation: dict[str, Any]
    overfitting: dict[str, Any]


class RegimeEvidencePublic(BaseModel):
    """Per market regime, the tournament's strategies ranked by their pooled out-of-sample
    Sharpe ratio per bar in that regime (see docs/research.md)."""

    tournament_id: uuid.UUID
    regimes: dict[str, list[dict[str, Any]]]
    overfitting: dict[str, Any]


class RecommendationsPublic(BaseModel):
    """Plain-language recommendations, each naming its evidence (out-of-sample figures, the
    deflated Sharpe ratio, the PBO): `kind` is `trade`, `caution`, `no_edge` or `overfit` (per
    market), `regime` or `regime_no_edge` (per market regime)."""

    tournament_id: uuid.UUID
    items: list[dict[str, Any]]
    deflation: dict[str, Any]
    overfitting: dict[str, Any]


class RegimeMeasuresPublic(BaseModel):
    """The measures behind a regime (docs/research.md, "Regimes"); null during warm-up."""

    t_stat: float | None
    drift: float | None
    adx: float | None
    plus_di: float | None
    minus_di: float | None
    vol_percentile: float | None
    variance_ratio: float | None


class RegimePublic(BaseModel):
    """The regime as of `at`, from the bars closed by then: the last one opened `opened_at`."""

    symbol: str
    timeframe: Timeframe
    at: datetime
    opened_at: datetime
    regime: str
    """`trending_up`, `trending_down`, `ranging`, `volatile`, or `unknown` during warm-up."""
    confidence: float | None
    measures: RegimeMeasuresPublic


class RegimeSeriesPublic(BaseModel):
    """Each bar opened in `[start, end)` with its regime and confidence, as parallel lists."""

    symbol: str
    timeframe: Timeframe
    opened_at: list[datetime]
    regime: list[str]
    confidence: list[float | None]

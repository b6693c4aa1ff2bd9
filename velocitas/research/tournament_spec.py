"""Tournament requests: what `POST /tournaments` stores and `velocitas research tournament` runs.

A tournament pits `strategies` (each with its defaults, fixed `params`, or a small `grid` swept
inside every walk-forward fold) against every symbol and timeframe: one *entry* per (strategy,
symbol, timeframe). The range [start, end) is cut into `folds + 1` equal spans of time; fold k
optimises on span k (or, `anchored`, on spans 0..k) and trades its choice on span k + 1. A
*trial* is one parameter set of one entry: the number of trials is what the deflated Sharpe
ratio corrects for, and the trials' returns are what CSCV cross-validates.

`validate` refuses what could never run: unknown strategies or parameters, an empty range,
folds shorter than a few bars, a tournament over `Settings.max_tournament_size` runs (trials x
folds, the message gives the computed size). Stored data is checked by whoever holds a database
session (the gateway, the CLI).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from velocitas.domain.timeframe import Timeframe
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import InvalidRequest
from velocitas.research.grid import grid_combinations
from velocitas.research.objectives import ObjectiveFields, ObjectiveName
from velocitas.research.walk_forward import MIN_WINDOW_BARS, Fold
from velocitas.settings import get_settings
from velocitas.strategies import registry
from velocitas.timeparse import in_range

__all__ = [
    "Contender",
    "Entry",
    "TournamentPlan",
    "TournamentSpec",
    "entry_spec",
    "plan",
    "trials_of",
    "validate",
]

_EXECUTION_FIELDS = frozenset(BacktestSpec.model_fields) - {"legs", "timeframe", "start", "end"}


class Contender(BaseModel):
    """A strategy in the tournament: its registered `name`, fixed `params` (defaults otherwise)
    and an optional `grid` of values swept in sample inside each fold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] | None = Field(default=None, min_length=1, max_length=4)


class TournamentSpec(ObjectiveFields):
    """A tournament: `strategies` (names, or `Contender`s) x `symbols` x `timeframes` over
    [start, end), `folds` walk-forward folds (`anchored` grows the in-sample window), ranked by
    the out-of-sample `objective`; `execution` holds the backtest settings every run shares
    (`initial_cash`, `fees`, `slippage_bps`, `sizing`, ...: the fields of `BacktestSpec` other
    than legs, timeframe and range). `cscv_blocks` (even) cuts the range for the probability of
    backtest overfitting; `dsr_threshold` is the deflated Sharpe ratio an entry must reach, and
    `dsr_variance` the variance of skill-less trials' Sharpe ratios it assumes: `null`, the
    estimator's own variance 1/(T-1) at a true Sharpe of 0, or `trials`, the trials' measured
    cross-sectional variance as in the paper (equal under the null; inflated by real skill)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategies: list[Contender] = Field(min_length=1, max_length=64)
    symbols: list[str] = Field(min_length=1, max_length=200)
    timeframes: list[str] = Field(default=["1h"], min_length=1, max_length=8)
    start: datetime
    end: datetime
    folds: int = Field(default=5, ge=1, le=100)
    anchored: bool = False
    objective: ObjectiveName = "sharpe"
    execution: dict[str, Any] = Field(default_factory=dict)
    cscv_blocks: int = Field(default=10, ge=2, le=16)
    dsr_threshold: float = Field(default=0.95, gt=0, lt=1)
    dsr_variance: Literal["null", "trials"] = "null"

    @field_validator("strategies", mode="before")
    @classmethod
    def _names_are_contenders(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("symbols")
    @classmethod
    def _distinct_symbols(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("symbols are listed more than once")
        if any(not symbol or len(symbol) > 64 for symbol in value):
            raise ValueError("a symbol is 1 to 64 characters")
        return value

    @field_validator("timeframes")
    @classmethod
    def _known_timeframes(cls, value: list[str]) -> list[str]:
        frames = [Timeframe.parse(text).value for text in value]
        if len(set(frames)) != len(frames):
            raise ValueError("timeframes are listed more than once")
        return frames

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # As for backtests: a time without an offset is UTC.
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC)
        return in_range(value)

    @field_validator("cscv_blocks")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("cscv_blocks must be even")
        return value

    @model_validator(mode="after")
    def _known_execution_fields(self) -> TournamentSpec:
        unknown = sorted(set(self.execution) - _EXECUTION_FIELDS)
        if unknown:
            raise ValueError(f"execution does not take {', '.join(unknown)}")
        return self


@dataclass(frozen=True, slots=True)
class Entry:
    """One (strategy, symbol, timeframe) of the tournament, by its place in `plan().entries`."""

    index: int
    strategy: int  # index into spec.strategies
    symbol: str
    timeframe: str


@dataclass(frozen=True, slots=True)
class TournamentPlan:
    entries: list[Entry]
    folds: list[Fold]
    trials: list[int]  # parameter sets per strategy
    size: int  # backtests the folds run: sum over entries of trials x folds

    @property
    def total_trials(self) -> int:
        return sum(self.trials[entry.strategy] for entry in self.entries)


def trials_of(contender: Contender, *, field: str) -> list[dict[str, Any]]:
    """The parameter sets a contender tries: its params alone, or each valid point of its grid
    (`InvalidRequest` naming `field` for an unknown strategy or an invalid value)."""
    registry.build(contender.name, dict(contender.params), field=field)
    if contender.grid is None:
        return [dict(contender.params)]
    try:
        combos, _ = grid_combinations(contender.name, contender.grid, fixed=contender.params)
    except InvalidRequest as exc:
        where = f"{field}.grid" + (f".{exc.field.split('.')[-1]}" if exc.field else "")
        raise InvalidRequest(str(exc), field=where) from exc
    if not combos:
        raise InvalidRequest("no combination of the grid is valid", field=f"{field}.grid")
    return combos


def _folds(spec: TournamentSpec) -> list[Fold]:
    span = (spec.end - spec.start) / (spec.folds + 1)
    cuts = [spec.start + k * span for k in range(spec.folds + 1)] + [spec.end]
    return [
        Fold(k, spec.start if spec.anchored else cuts[k], cuts[k + 1], cuts[k + 1], cuts[k + 2])
        for k in range(spec.folds)
    ]


def validate(spec: TournamentSpec, *, max_size: int | None = None) -> TournamentPlan:
    """The plan of a tournament that can run, or `InvalidRequest` naming the field at fault."""
    if spec.end <= spec.start:
        raise InvalidRequest("the range is empty: end must be after start", field="end")
    for index, symbol in enumerate(spec.symbols):
        if any(ord(c) < 32 or ord(c) == 127 for c in symbol):
            raise InvalidRequest("a symbol has control characters", field=f"symbols[{index}]")
    try:
        BacktestSpec.model_validate(
            {**spec.execution, "timeframe": spec.timeframes[0], "start": spec.start,
             "end": spec.end, "symbol": spec.symbols[0], "strategy": {"name": "buy_and_hold"}}
        )  # fmt: skip
    except ValueError as exc:
        raise InvalidRequest(f"execution: {exc}", field="execution") from exc
    trials = [len(trials_of(c, field=f"strategies[{i}]")) for i, c in enumerate(spec.strategies)]
    span = (spec.end - spec.start) / (spec.folds + 1)
    longest = max(Timeframe.parse(tf).nominal_seconds for tf in spec.timeframes)
    if span.total_seconds() < MIN_WINDOW_BARS * longest:
        raise InvalidRequest(
            f"{spec.folds} folds cut [{spec.start.isoformat()}, {spec.end.isoformat()}) into "
            f"{spec.folds + 1} spans of {span}, shorter than {MIN_WINDOW_BARS} bars of "
            f"{max(spec.timeframes, key=lambda tf: Timeframe.parse(tf).nominal_seconds)}",
            field="folds",
        )
    entries = [
        Entry(len(spec.strategies) * (t * len(spec.symbols) + s) + k, k, symbol, timeframe)
        for t, timeframe in enumerate(spec.timeframes)
        for s, symbol in enumerate(spec.symbols)
        for k in range(len(spec.strategies))
    ]
    per_symbol = sum(trials)
    size = per_symbol * len(spec.symbols) * len(spec.timeframes) * spec.folds
    limit = get_settings().max_tournament_size if max_size is None else max_size
    if size > limit:
        raise InvalidRequest(
            f"the tournament is {per_symbol} parameter sets ({len(spec.strategies)} strategies) "
            f"x {len(spec.symbols)} symbols x {len(spec.timeframes)} timeframes x "
            f"{spec.folds} folds = {size} runs; at most {limit} (MAX_TOURNAMENT_SIZE): "
            "drop strategies, symbols, grid values or folds",
            field="folds",
        )
    return TournamentPlan(entries, _folds(spec), trials, size)


def plan(spec: TournamentSpec) -> TournamentPlan:
    """The plan of a stored (valid) spec, whatever the size limit is now."""
    return validate(spec, max_size=sys.maxsize)


def entry_spec(spec: TournamentSpec, entry: Entry) -> BacktestSpec:
    """The whole-range backtest of an entry with its contender's fixed parameters."""
    contender = spec.strategies[entry.strategy]
    return BacktestSpec.model_validate(
        {**spec.execution, "timeframe": entry.timeframe, "start": spec.start, "end": spec.end,
         "symbol": entry.symbol,
         "strategy": {"name": contender.name, "params": dict(contender.params)}}
    )  # fmt: skip

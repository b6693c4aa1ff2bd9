"""`BacktestSpec`: what to run, validated once, used as the REST request schema as well.

Every model is frozen and refuses unknown fields. Money and rates are Decimal (decimal strings in
JSON). A one-leg run may be written with the shorthand `symbol` + `strategy`; a validator turns it
into `legs`. The semantics of each field are stated in `docs/backtesting-assumptions.md`.

Every number is bounded to what the engine (float64 kernels, a 60-digit Decimal ledger) and the
NUMERIC columns represent, so a spec accepted with 202 cannot break inside the job: money and
lots have at most `DECIMALS` decimal places, rates, fractions, weights and sizes at most
`FRACTION_DECIMALS`, cash and quantities at most `MAX_AMOUNT`, weights at
most `MAX_WEIGHT`, lots at most `MAX_LOT`, counts at most `MAX_COUNT`; instants lie in
`velocitas.timeparse`'s range (see docs/backtesting.md, "Limits").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from velocitas.calendars import market_calendar
from velocitas.domain.timeframe import Timeframe
from velocitas.timeparse import in_range

__all__ = [
    "DECIMALS",
    "FRACTION_DECIMALS",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MAX_LOT",
    "MAX_WEIGHT",
    "BacktestSpec",
    "FeeSpec",
    "LegSpec",
    "RiskSpec",
    "SizingSpec",
    "StopLevelSpec",
    "StopSpec",
    "StrategyRef",
]


DECIMALS = 8
"""Decimal places of money and lots: cash, fixed fees, lot sizes (crypto's satoshi)."""
FRACTION_DECIMALS = 12
"""Decimal places of rates, fractions, weights and sizes."""
MAX_AMOUNT = Decimal("1e15")
"""The largest cash amount or quantity: 15 integer digits + 8 decimals stay exact in the ledger
and leave float64 (the kernels) its 15 significant digits for prices times quantities."""
MAX_WEIGHT = Decimal("1e6")
MAX_LOT = Decimal("1e6")
MAX_COUNT = 1_000_000
"""The largest count of bars or trades a rule may wait for (more than any run holds)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyRef(_Frozen):
    """A registered strategy by name, with its parameters (checked against its declared bounds)."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class LegSpec(_Frozen):
    """One (symbol, strategy) pair. `weight` scales the leg's order size (see SizingSpec)."""

    # No control characters (a NUL cannot even be stored); otherwise any label, so a notebook's
    # DataFrame may be called anything. Stored series follow `SYMBOL_PATTERN`.
    symbol: str = Field(pattern=r"^[^\x00-\x1f\x7f]{1,64}$", description="e.g. BTCUSDT")
    strategy: StrategyRef
    weight: Decimal = Field(
        default=Decimal(1), gt=0, le=MAX_WEIGHT, decimal_places=FRACTION_DECIMALS
    )


class FeeSpec(_Frozen):
    """Fee per order: `rate` × notional + `fixed` (account currency)."""

    rate: Decimal = Field(
        default=Decimal("0.001"), ge=0, lt=Decimal("0.1"), decimal_places=FRACTION_DECIMALS
    )
    fixed: Decimal = Field(default=Decimal(0), ge=0, le=MAX_AMOUNT, decimal_places=DECIMALS)


class SizingSpec(_Frozen):
    """How many units an entry buys or sells, before rounding DOWN to `lot_size`.

    Left unset, `lot_size` follows the market: one whole share on an exchange calendar,
    0.00000001 (fractional) for crypto and FX; the report's `lot_size` says which was used.

    - `fixed_quantity`: `value` units.
    - `fixed_cash`: `value` of notional (fees come on top).
    - `fraction_of_equity`: notional plus fees at most `value` × equity (0 < value ≤ 1).
    A leg's `weight` multiplies `value`. A size that rounds to zero lots is rejected.
    """

    mode: Literal["fixed_quantity", "fixed_cash", "fraction_of_equity"] = "fraction_of_equity"
    value: Decimal = Field(
        default=Decimal(1), gt=0, le=MAX_AMOUNT, decimal_places=FRACTION_DECIMALS
    )
    lot_size: Decimal = Field(
        default=Decimal("0.00000001"), gt=0, le=MAX_LOT, decimal_places=DECIMALS
    )

    @model_validator(mode="after")
    def _fraction_at_most_one(self) -> SizingSpec:
        if self.mode == "fraction_of_equity" and self.value > 1:
            raise ValueError("sizing.value must be at most 1 for fraction_of_equity (no leverage)")
        return self


class StopLevelSpec(_Frozen):
    """A stop distance: `percent` (value is a fraction, 0.02 = 2%) or `atr` (value × ATR)."""

    kind: Literal["percent", "atr"]
    value: Decimal = Field(gt=0, le=MAX_WEIGHT, decimal_places=FRACTION_DECIMALS)
    atr_period: int = Field(default=14, ge=1, le=10_000)

    @model_validator(mode="after")
    def _percent_below_one(self) -> StopLevelSpec:
        if self.kind == "percent" and self.value >= 1:
            raise ValueError("a percent stop is a fraction below 1 (0.02 means 2%)")
        return self


class StopSpec(_Frozen):
    """Protective exits checked inside every bar along `intrabar_path`.

    `bridge` walks the seeded intrabar ticks of `velocitas.engine.ticks` (those a trading
    session replays): `ticks_per_bar` of them (None: the timeframe's default,
    `velocitas.engine.ticks.TICKS_PER_BAR`), drawn from `tick_seed`, the bar's symbol and time.
    """

    stop_loss: StopLevelSpec | None = None
    take_profit: StopLevelSpec | None = None
    trailing_stop: StopLevelSpec | None = None
    intrabar_path: Literal["pessimistic", "ohlc", "adaptive", "bridge"] = "pessimistic"
    tick_seed: int = Field(default=0, ge=0, lt=2**53)
    ticks_per_bar: int | None = Field(default=None, ge=4, le=10_000)


class RiskSpec(_Frozen):
    """Account-level rules applied before every entry order.

    - `max_position`: largest entry notional as a fraction of equity.
    - `max_daily_loss`: fraction of the UTC day's opening equity; reaching it halts new entries
      until the next UTC day.
    - `max_drawdown`: fraction below peak equity; reaching it flattens every leg (kill switch)
      and halts the run.
    - `cooldown_losses` consecutive losing trades block new entries for `cooldown_bars` bars.
    """

    max_position: Decimal | None = Field(
        default=None, gt=0, le=MAX_WEIGHT, decimal_places=FRACTION_DECIMALS
    )
    max_daily_loss: Decimal | None = Field(
        default=None, gt=0, lt=1, decimal_places=FRACTION_DECIMALS
    )
    max_drawdown: Decimal | None = Field(default=None, gt=0, lt=1, decimal_places=FRACTION_DECIMALS)
    cooldown_losses: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    cooldown_bars: int | None = Field(default=None, ge=1, le=MAX_COUNT)

    @model_validator(mode="after")
    def _cooldown_pair(self) -> RiskSpec:
        if (self.cooldown_losses is None) != (self.cooldown_bars is None):
            raise ValueError("cooldown_losses and cooldown_bars go together")
        return self


class BacktestSpec(_Frozen):
    """A complete, self-contained backtest request over [start, end) on `timeframe` bars."""

    legs: list[LegSpec] = Field(min_length=1, max_length=64)
    timeframe: str
    start: datetime
    end: datetime
    initial_cash: Decimal = Field(
        default=Decimal(10_000), gt=0, le=MAX_AMOUNT, decimal_places=DECIMALS
    )
    fees: FeeSpec = Field(default_factory=FeeSpec)
    slippage_bps: Decimal = Field(
        default=Decimal(0), ge=0, lt=Decimal(10_000), decimal_places=FRACTION_DECIMALS
    )
    fill: Literal["next_open", "same_close"] = "next_open"
    sizing: SizingSpec = Field(default_factory=SizingSpec)
    stops: StopSpec = Field(default_factory=StopSpec)
    risk: RiskSpec = Field(default_factory=RiskSpec)
    allow_short: bool = False
    calendar: str | None = None
    """The market calendar (`crypto`, `fx` or an exchange code such as `XNYS`): periods per year,
    CAGR's years, the default lot. None: inferred from the spacing of the bars the run uses."""
    risk_free_rate: Decimal = Field(
        default=Decimal(0), gt=-1, lt=1, decimal_places=FRACTION_DECIMALS
    )
    """Annual risk-free rate (0.04 = 4 %) subtracted from returns in Sharpe and Sortino."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand_to_legs(cls, data: Any) -> Any:
        """Accept `symbol` + `strategy` for a single leg."""
        if isinstance(data, dict) and ("symbol" in data or "strategy" in data):
            if "legs" in data:
                raise ValueError("give either legs or symbol + strategy, not both")
            data = dict(data)
            leg = {"symbol": data.pop("symbol", None), "strategy": data.pop("strategy", None)}
            data["legs"] = [leg]
        return data

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return Timeframe.parse(value).value

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str | None) -> str | None:
        return None if value is None else market_calendar(value).name

    @field_validator("start", "end")
    @classmethod
    def _naive_is_utc(cls, value: datetime) -> datetime:
        # One rule for the CLI, REST and the library: a time without an offset is UTC.
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC)
        return in_range(value)

    @model_validator(mode="after")
    def _start_before_end(self) -> BacktestSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start (end is exclusive)")
        return self

    @property
    def symbols(self) -> list[str]:
        """Distinct symbols of the legs, in first-seen order."""
        return list(dict.fromkeys(leg.symbol for leg in self.legs))

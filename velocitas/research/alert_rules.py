"""Copilot alert rules: what a user may ask to be told, checked when the rule is created, and
evaluated point-in-time on bars.

    signal      a strategy's target side changes on a series (to `side`, or any change)
    regime      the market regime of a series changes (`velocitas.research.regimes`)
    cross       the close, or an indicator of it, crosses `level` (`above`, `below`, `any`)
    sentiment   the analyst's sentiment moves by more than `change` within `window`
    job_failed  one of the owner's jobs fails
    session_drawdown, session_daily_loss
                refused: sessions are not available yet (their evaluation hook is a session's
                bar close, which does not exist)

A rule that could not be evaluated (unknown strategy or indicator, a bad parameter, a level an
indicator never reaches) is refused by `check_rule` with `InvalidRequest` naming the field.

Evaluation (`bar_firings`) sees the bars up to each evaluated bar only: the strategies'
contract (`signals(bars[:t]) == signals(bars)[:t]`) and the causal indicators give each bar's
value from its own past, so an alert on bar t is what a watcher at t's close would have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from velocitas import indicators
from velocitas.domain.bars import BarArrays
from velocitas.domain.events import JobKind
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.research.regimes import Regime, RegimeParams, regime_labels
from velocitas.strategies import registry
from velocitas.timeparse import parse_duration

__all__ = [
    "BAR_RULE_KINDS",
    "INDICATORS",
    "SESSIONS_UNAVAILABLE",
    "AlertRuleSpec",
    "CrossRule",
    "Firing",
    "IndicatorRef",
    "JobFailedRule",
    "RegimeRule",
    "SentimentRule",
    "SessionRule",
    "SignalRule",
    "StrategyRef",
    "bar_firings",
    "check_rule",
    "parse_rule",
    "warmup_bars",
]

F64 = npt.NDArray[np.float64]

SESSIONS_UNAVAILABLE = (
    "sessions are not available yet: session_drawdown and session_daily_loss rules will be "
    "accepted once trading sessions exist (their evaluation hook is a session's bar close)"
)
BAR_RULE_KINDS = ("signal", "regime", "cross", "sentiment")
_MAX_PERIOD = 5000


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=128)
    """A label for people; default: a description of the rule."""
    webhook_url: str | None = Field(
        default=None, max_length=2000, pattern=r"^https?://[^\s]+$", examples=["https://…"]
    )
    """Each alert is also POSTed here as JSON (bounded retries)."""


class _BarRule(_Rule):
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    timeframe: Timeframe


class StrategyRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class SignalRule(_BarRule):
    """Fires on the bar whose close changes `strategy`'s target side (to `side`, unless any)."""

    kind: Literal["signal"]
    strategy: StrategyRef
    side: Literal["long", "short", "flat", "any"] = "any"


class RegimeRule(_BarRule):
    """Fires on the bar whose regime (`velocitas.research.regimes`: `trending_up`,
    `trending_down`, `ranging`, `volatile`) differs from the previous bar's (is `to`, when
    given), with a confidence of at least `min_confidence`. The classifier's warm-up ending is
    no change."""

    kind: Literal["regime"]
    to: Literal["trending_up", "trending_down", "ranging", "volatile"] | None = None
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class IndicatorRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=32)
    params: dict[str, int] = Field(default_factory=dict)


class CrossRule(_BarRule):
    """Fires on the bar whose `indicator` value crosses `level`: `above` when the previous
    bar's value was at or below it and this one's is above, `below` the mirror, `any` both."""

    kind: Literal["cross"]
    indicator: IndicatorRef = Field(default_factory=lambda: IndicatorRef(name="close"))
    level: Decimal = Field(allow_inf_nan=False)
    direction: Literal["above", "below", "any"] = "any"


class SentimentRule(_BarRule):
    """Fires on the bar at whose close the analyst's sentiment of `symbol` differs from its
    value `window` earlier by more than `change` (`up`, `down` or `any` way)."""

    kind: Literal["sentiment"]
    change: float = Field(gt=0.0, le=2.0)
    window: str = Field(min_length=2, max_length=16, examples=["4h"])
    direction: Literal["up", "down", "any"] = "any"


class JobFailedRule(_Rule):
    """Fires when one of the owner's jobs fails (of `job_kind`, when given). Child jobs (a
    sweep's runs, a walk-forward's folds) only with `include_children`."""

    kind: Literal["job_failed"]
    job_kind: JobKind | None = None
    include_children: bool = False


class SessionRule(_Rule):
    """A session's drawdown or daily loss past `threshold`: refused until sessions exist."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: Literal["session_drawdown", "session_daily_loss"]


AlertRuleSpec = Annotated[
    SignalRule | RegimeRule | CrossRule | SentimentRule | JobFailedRule | SessionRule,
    Field(discriminator="kind"),
]
"""A rule as `POST /alerts/rules` takes it; `kind` says which."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AlertRuleSpec)


def parse_rule(data: Any) -> Any:
    """A stored (or CLI-given) rule as its model; pydantic's `ValidationError` if malformed."""
    return _ADAPTER.validate_python(data)


# ---------------------------------------------------------------------------------------------
# Indicators a `cross` rule can watch


@dataclass(frozen=True, slots=True)
class _Indicator:
    params: dict[str, int]  # name -> default
    compute: Callable[[BarArrays, dict[str, int]], F64]
    low: Decimal | None = None  # the values it can take, inclusive
    high: Decimal | None = None
    rule: Callable[[dict[str, int]], str | None] = field(default=lambda _: None)


def _macd_rule(p: dict[str, int]) -> str | None:
    return None if p["fast"] < p["slow"] else "fast must be below slow"


INDICATORS: dict[str, _Indicator] = {
    "close": _Indicator({}, lambda b, p: b.close, low=Decimal(0)),
    "sma": _Indicator({"n": 20}, lambda b, p: indicators.sma(b.close, p["n"]), low=Decimal(0)),
    "ema": _Indicator({"n": 20}, lambda b, p: indicators.ema(b.close, p["n"]), low=Decimal(0)),
    "rsi": _Indicator(
        {"n": 14}, lambda b, p: indicators.rsi(b.close, p["n"]), Decimal(0), Decimal(100)
    ),
    "atr": _Indicator(
        {"n": 14}, lambda b, p: indicators.atr(b.high, b.low, b.close, p["n"]), low=Decimal(0)
    ),
    "roc": _Indicator({"n": 10}, lambda b, p: indicators.roc(b.close, p["n"])),
    "macd": _Indicator(
        {"fast": 12, "slow": 26, "signal": 9},
        lambda b, p: indicators.macd(b.close, p["fast"], p["slow"], p["signal"])[0],
        rule=_macd_rule,
    ),
}
"""What a `cross` rule's `indicator.name` may be, with its parameters and their defaults
(periods in bars, 1 to 5000); `macd` is the MACD line (fast EMA minus slow EMA)."""


def _indicator_params(ref: IndicatorRef) -> dict[str, int]:
    spec = INDICATORS.get(ref.name)
    if spec is None:
        raise InvalidRequest(
            f"unknown indicator {ref.name!r}; choose one of {', '.join(INDICATORS)}",
            field="indicator.name",
        )
    for name, value in ref.params.items():
        if name not in spec.params:
            allowed = ", ".join(spec.params) or "none"
            raise InvalidRequest(
                f"unknown parameter {name!r} for {ref.name} (parameters: {allowed})",
                field=f"indicator.params.{name}",
            )
        if not 1 <= value <= _MAX_PERIOD:
            raise InvalidRequest(
                f"{ref.name}: {name} must be a period of 1 to {_MAX_PERIOD} bars, got {value}",
                field=f"indicator.params.{name}",
            )
    params = {**spec.params, **ref.params}
    problem = spec.rule(params)
    if problem is not None:
        raise InvalidRequest(f"{ref.name}: {problem}", field="indicator.params")
    return params


# ---------------------------------------------------------------------------------------------
# Checking a rule at creation


def check_rule(rule: Any) -> None:
    """Refuse (`InvalidRequest` naming the field) a rule that could not be evaluated. Whether
    its series is stored is the caller's check (it needs the database)."""
    if isinstance(rule, SessionRule):
        raise InvalidRequest(SESSIONS_UNAVAILABLE, field="kind")
    if isinstance(rule, SignalRule):
        registry.build(rule.strategy.name, rule.strategy.params, field="strategy")
    elif isinstance(rule, CrossRule):
        _indicator_params(rule.indicator)
        spec = INDICATORS[rule.indicator.name]
        if (spec.low is not None and rule.level < spec.low) or (
            spec.high is not None and rule.level > spec.high
        ):
            bounds = f"[{spec.low if spec.low is not None else '-inf'}, "
            bounds += f"{spec.high if spec.high is not None else 'inf'}]"
            raise InvalidRequest(
                f"{rule.indicator.name} takes values in {bounds}: it never crosses {rule.level}",
                field="level",
            )
    elif isinstance(rule, SentimentRule):
        window = parse_duration(rule.window, field="window")
        if window.months or window.total_seconds() < rule.timeframe.nominal_seconds:
            raise InvalidRequest(
                f"window {rule.window!r} must be at least one {rule.timeframe.value} bar and "
                "given in s, m, h, d or w",
                field="window",
            )


def describe(rule: Any) -> str:
    """A one-line description of `rule`, its default name."""
    if isinstance(rule, SignalRule):
        params = ", ".join(f"{k}={v}" for k, v in rule.strategy.params.items())
        side = "" if rule.side == "any" else f" to {rule.side}"
        return f"{rule.strategy.name}({params}) changes side{side} on {_series(rule)}"
    if isinstance(rule, RegimeRule):
        return f"regime changes{f' to {rule.to}' if rule.to else ''} on {_series(rule)}"
    if isinstance(rule, CrossRule):
        what = _indicator_text(rule.indicator)
        way = "crosses" if rule.direction == "any" else f"crosses {rule.direction}"
        return f"{what} {way} {rule.level} on {_series(rule)}"
    if isinstance(rule, SentimentRule):
        way = "" if rule.direction == "any" else f" {rule.direction}"
        return f"sentiment of {rule.symbol} moves{way} by more than {rule.change} in {rule.window}"
    if isinstance(rule, JobFailedRule):
        return f"a {rule.job_kind.value if rule.job_kind else 'job'} fails"
    return str(rule.kind)


def _series(rule: _BarRule) -> str:
    return f"{rule.symbol} {rule.timeframe.value}"


def _indicator_text(ref: IndicatorRef) -> str:
    if ref.name == "close":
        return "close"
    params = {**INDICATORS[ref.name].params, **ref.params}
    return f"{ref.name}({', '.join(str(v) for v in params.values())})"


def warmup_bars(rule: Any) -> int:
    """Bars before the first evaluated one that its evaluation reads (indicators and
    strategies need their history; exponential ones more than their period)."""
    if isinstance(rule, CrossRule):
        return 1 + 10 * max(_indicator_params(rule.indicator).values(), default=0)
    if isinstance(rule, RegimeRule):  # the volatility percentile weighs this much history
        return RegimeParams().vol_lookback
    return 1000


# ---------------------------------------------------------------------------------------------
# Evaluating a bar rule


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule fired on bar `index` of the bars it was given: what to tell, and the numbers."""

    index: int
    message: str
    details: dict[str, Any]


SentimentAsOf = Callable[[npt.NDArray[np.int64]], F64]
"""Sentiment score as of each instant (int64 ns), NaN where none is stored yet."""


def bar_firings(
    rule: Any, bars: BarArrays, first: int, *, sentiment: SentimentAsOf | None = None
) -> list[Firing]:
    """Where `rule` fires among `bars[first:]` (the bars before `first` are history only).

    Each bar's verdict depends on the bars up to it and the previous bar's state, never on a
    later bar. `sentiment` reads the analyst's series (sentiment rules only)."""
    first = max(first, 1)  # a change needs the bar before it
    if len(bars) <= first:
        return []
    if isinstance(rule, SignalRule):
        return _signal_firings(rule, bars, first)
    if isinstance(rule, CrossRule):
        return _cross_firings(rule, bars, first)
    if isinstance(rule, SentimentRule):
        if sentiment is None:
            raise ValueError("a sentiment rule needs the sentiment series")
        return _sentiment_firings(rule, bars, first, sentiment)
    if isinstance(rule, RegimeRule):
        return _regime_firings(rule, bars, first)
    raise ValueError(f"{rule.kind} rules are not evaluated on bars")


_SIDE_NAMES = {1: "long", 0: "flat", -1: "short"}


def _signal_firings(rule: SignalRule, bars: BarArrays, first: int) -> list[Firing]:
    strategy = registry.build(rule.strategy.name, rule.strategy.params, field="strategy")
    sides = np.asarray(strategy.signals(bars), dtype=np.int8)
    changed = np.flatnonzero(sides[first:] != sides[first - 1 : -1]) + first
    wanted = {"long": 1, "flat": 0, "short": -1}.get(rule.side)
    firings = []
    for i in changed.tolist():
        now, before = int(sides[i]), int(sides[i - 1])
        if wanted is not None and now != wanted:
            continue
        firings.append(
            Firing(
                i,
                f"{describe(rule)}: {_SIDE_NAMES[before]} -> {_SIDE_NAMES[now]}",
                {"from": _SIDE_NAMES[before], "to": _SIDE_NAMES[now], "close": repr(bars.close[i])},
            )
        )
    return firings


def _cross_firings(rule: CrossRule, bars: BarArrays, first: int) -> list[Firing]:
    values = np.asarray(
        INDICATORS[rule.indicator.name].compute(bars, _indicator_params(rule.indicator))
    )
    level = float(rule.level)
    now, before = values[first:], values[first - 1 : -1]
    up = (before <= level) & (now > level)
    down = (before >= level) & (now < level)
    hits = up if rule.direction == "above" else down if rule.direction == "below" else up | down
    firings = []
    for offset in np.flatnonzero(hits).tolist():
        i = offset + first
        way = "above" if up[offset] else "below"
        what = _indicator_text(rule.indicator)
        firings.append(
            Firing(
                i,
                f"{what} crossed {way} {rule.level} on {_series(rule)}",
                {
                    "direction": way,
                    "level": str(rule.level),
                    "value": repr(float(values[i])),
                    "previous": repr(float(values[i - 1])),
                },
            )
        )
    return firings


def _sentiment_firings(
    rule: SentimentRule, bars: BarArrays, first: int, sentiment: SentimentAsOf
) -> list[Firing]:
    window_ns = int(parse_duration(rule.window).total_seconds() * 1_000_000_000)
    closes = rule.timeframe.add_ns(bars.opened_at[first:], 1)
    now = sentiment(closes)
    before = sentiment(closes - window_ns)
    moved = now - before
    if rule.direction == "up":
        hits = moved > rule.change
    elif rule.direction == "down":
        hits = moved < -rule.change
    else:
        hits = np.abs(moved) > rule.change  # NaN (no score yet) compares false
    return [
        Firing(
            offset + first,
            f"sentiment of {rule.symbol} moved {moved[offset]:+.3f} in {rule.window} "
            f"(from {before[offset]:+.3f} to {now[offset]:+.3f})",
            {
                "change": repr(float(moved[offset])),
                "from": repr(float(before[offset])),
                "to": repr(float(now[offset])),
                "window": rule.window,
            },
        )
        for offset in np.flatnonzero(hits).tolist()
    ]


# ---------------------------------------------------------------------------------------------
# Regimes


def _regime_firings(rule: RegimeRule, bars: BarArrays, first: int) -> list[Firing]:
    labels, confidence = regime_labels(bars.high, bars.low, bars.close)
    changed = np.flatnonzero(labels[first:] != labels[first - 1 : -1]) + first
    firings = []
    for i in changed.tolist():
        before, now = Regime(int(labels[i - 1])), Regime(int(labels[i]))
        if before is Regime.UNKNOWN:  # the classifier's warm-up ending is no change
            continue
        if rule.to is not None and now.label != rule.to:
            continue
        if not confidence[i] >= rule.min_confidence:
            continue
        firings.append(
            Firing(
                i,
                f"regime of {_series(rule)}: {before.label} -> {now.label} "
                f"(confidence {confidence[i]:.2f})",
                {"from": before.label, "to": now.label, "confidence": repr(float(confidence[i]))},
            )
        )
    return firings

"""Copilot rules: refused at creation when they could not be evaluated; evaluated
point-in-time (a bar's verdict never depends on a later bar)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from velocitas.domain.bars import BarArrays
from velocitas.errors import InvalidRequest
from velocitas.research.alert_rules import (
    SESSIONS_UNAVAILABLE,
    bar_firings,
    check_rule,
    parse_rule,
)
from velocitas.research.regimes import Regime, regime_labels
from velocitas.strategies.registry import build

HOUR_NS = 3_600_000_000_000


def _bars(close: list[float] | np.ndarray) -> BarArrays:
    c = np.asarray(close, dtype=np.float64)
    opened = np.arange(len(c), dtype=np.int64) * HOUR_NS
    return BarArrays("X", "1h", opened, c, c + 1, c - 1, c, np.ones(len(c)))


def _rule(**fields: Any) -> Any:
    return parse_rule({"symbol": "X", "timeframe": "1h", **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "signal", "strategy": {"name": "nope"}}, "strategy.name"),
        (
            {
                "kind": "signal",
                "strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 5}},
            },
            "strategy.params.slow",
        ),
        ({"kind": "cross", "indicator": {"name": "vwap"}, "level": "1"}, "indicator.name"),
        (
            {"kind": "cross", "indicator": {"name": "rsi", "params": {"length": 3}}, "level": "1"},
            "indicator.params.length",
        ),
        (
            {"kind": "cross", "indicator": {"name": "rsi", "params": {"n": 0}}, "level": "1"},
            "indicator.params.n",
        ),
        ({"kind": "cross", "indicator": {"name": "rsi"}, "level": "150"}, "level"),
        ({"kind": "cross", "level": "-3"}, "level"),
        (
            {"kind": "cross", "indicator": {"name": "macd", "params": {"fast": 30}}, "level": "0"},
            "indicator.params",
        ),
        ({"kind": "sentiment", "change": 0.5, "window": "soon"}, "window"),
        ({"kind": "sentiment", "change": 0.5, "window": "30m"}, "window"),
    ],
)
def test_check_rule_refuses_what_cannot_be_evaluated_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_rule(_rule(**fields))
    assert refused.value.field == field


@pytest.mark.parametrize("kind", ["session_drawdown", "session_daily_loss"])
def test_session_rules_are_refused_until_sessions_exist(kind: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_rule(parse_rule({"kind": kind, "threshold": "0.1"}))
    assert refused.value.field == "kind"
    assert str(refused.value) == SESSIONS_UNAVAILABLE


def test_check_rule_accepts_good_rules() -> None:
    check_rule(_rule(kind="cross", indicator={"name": "rsi", "params": {"n": 7}}, level="70"))
    check_rule(_rule(kind="signal", strategy={"name": "sma_cross"}, side="long"))
    check_rule(_rule(kind="sentiment", change=0.3, window="4h"))
    check_rule(parse_rule({"kind": "job_failed", "job_kind": "sweep"}))


def test_cross_fires_on_the_bar_that_crosses_each_way() -> None:
    bars = _bars([99, 100, 101, 102, 100, 99.5, 101])
    above = bar_firings(_rule(kind="cross", level="100", direction="above"), bars, 0)
    below = bar_firings(_rule(kind="cross", level="100", direction="below"), bars, 0)
    both = bar_firings(_rule(kind="cross", level="100"), bars, 0)
    # At or below, then above: bar 2 (100 -> 101) and bar 6 (99.5 -> 101); 100 itself is not.
    assert [f.index for f in above] == [2, 6]
    assert [f.index for f in below] == [5]
    assert [f.index for f in both] == [2, 5, 6]
    assert both[0].details == {
        "direction": "above",
        "level": "100",
        "value": "101.0",
        "previous": "100.0",
    }


def test_cross_keeps_the_exact_level_in_its_details() -> None:
    rule = _rule(kind="cross", level="100.10000001", direction="above")
    assert rule.level == Decimal("100.10000001")
    fired = bar_firings(rule, _bars([100.1, 100.2]), 0)
    assert [f.details["level"] for f in fired] == ["100.10000001"]


def test_cross_evaluates_only_from_first_the_bars_before_are_history() -> None:
    bars = _bars([99, 101, 99, 101, 99, 101])
    fired = bar_firings(_rule(kind="cross", level="100"), bars, 3)
    assert [f.index for f in fired] == [3, 4, 5]


def _walk(n: int, seed: int = 3) -> np.ndarray:
    """A random walk whose drift and volatility change every 100 bars (regimes to find)."""
    rng = np.random.default_rng(seed)
    drift = np.repeat([0.0, 0.004, 0.0, -0.004], 100)[np.arange(n) % 400]
    sd = np.repeat([0.005, 0.005, 0.03, 0.005], 100)[np.arange(n) % 400]
    return 100 * np.exp(np.cumsum(rng.normal(drift, sd)))


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "cross", "indicator": {"name": "rsi", "params": {"n": 5}}, "level": "50"},
        {"kind": "cross", "indicator": {"name": "ema", "params": {"n": 8}}, "level": "100"},
        {"kind": "signal", "strategy": {"name": "sma_cross", "params": {"fast": 3, "slow": 9}}},
        {"kind": "regime"},
    ],
    ids=["rsi", "ema", "signal", "regime"],
)
def test_no_look_ahead_cutting_the_data_gives_the_same_verdicts(fields: dict[str, Any]) -> None:
    rule = _rule(**fields)
    bars = _bars(_walk(800))
    everything = {f.index: f.details for f in bar_firings(rule, bars, 1)}
    assert everything, "the series should make this rule fire"
    for cut in (50, 123, 250, 399, 640):
        seen = {f.index: f.details for f in bar_firings(rule, bars.slice(0, cut), 1)}
        assert seen == {i: d for i, d in everything.items() if i < cut}


def test_signal_fires_when_the_side_changes_to_the_side_asked() -> None:
    bars = _bars(_walk(300, seed=5))
    strategy = {"name": "sma_cross", "params": {"fast": 3, "slow": 9}}
    sides = build("sma_cross", strategy["params"]).signals(bars)
    to_long = [
        f.index for f in bar_firings(_rule(kind="signal", strategy=strategy, side="long"), bars, 0)
    ]
    expected = [i for i in range(1, len(sides)) if sides[i] == 1 and sides[i - 1] != 1]
    assert to_long == expected
    assert to_long
    any_change = bar_firings(_rule(kind="signal", strategy=strategy), bars, 0)
    assert len(any_change) == int(np.count_nonzero(np.diff(sides)))


def test_sentiment_fires_when_it_moves_more_than_change_within_the_window() -> None:
    bars = _bars(np.full(6, 100.0))

    # Score as of instant t (ns): 0 until 3h, 0.8 from then on; NaN before anything is stored.
    def as_of(instants: np.ndarray) -> np.ndarray:
        hours = instants / HOUR_NS
        return np.where(hours < 1, np.nan, np.where(hours < 3, 0.0, 0.8))

    rule = _rule(kind="sentiment", change=0.5, window="2h")
    fired = bar_firings(rule, bars, 0, sentiment=as_of)
    # Bar i closes at (i + 1)h: bar 2 closes at 3h (0 two hours before, 0.8 now), bar 3 at 4h
    # (2h: 0 -> 0.8); bar 4 closes at 5h, when 3h already read 0.8.
    assert [f.index for f in fired] == [2, 3]
    assert fired[0].details["change"] == "0.8"
    down = bar_firings(_rule(kind="sentiment", change=0.5, window="2h", direction="down"),
                       bars, 0, sentiment=as_of)  # fmt: skip
    assert down == []


def test_regime_fires_on_each_change_of_label_after_the_warm_up() -> None:
    bars = _bars(_walk(800))
    labels, confidence = regime_labels(bars.high, bars.low, bars.close)
    changes = [
        i
        for i in range(1, len(labels))
        if labels[i] != labels[i - 1] and labels[i - 1] != Regime.UNKNOWN
    ]
    fired = bar_firings(_rule(kind="regime"), bars, 0)
    assert [f.index for f in fired] == changes
    assert changes
    to_volatile = bar_firings(_rule(kind="regime", to="volatile", min_confidence=0.6), bars, 0)
    assert [f.index for f in to_volatile] == [
        i for i in changes if labels[i] == Regime.VOLATILE and confidence[i] >= 0.6
    ]
    assert {f.details["to"] for f in to_volatile} <= {"volatile"}


def test_regime_rule_names_a_known_regime() -> None:
    with pytest.raises(ValidationError):
        _rule(kind="regime", to="sideways")

"""The engine's count, time, session and confidence rules: what each does in a backtest, the
Stepper agreeing with the kernel on every one of them, and the checks an OMS calls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from velocitas.calendars import market_calendar
from velocitas.domain.bars import BarArrays
from velocitas.domain.positions import PositionSide
from velocitas.engine import BacktestSpec
from velocitas.engine.codes import (
    REJECT_LOW_CONFIDENCE,
    REJECT_MAX_OPEN_POSITIONS,
    REJECT_MAX_TRADES_PER_DAY,
)
from velocitas.engine.risk import confidence_refusal, count_refusal
from velocitas.engine.runner import kernel_config, run_signals
from velocitas.engine.stepper import Stepper

HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS


def _prices(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.002, n)), 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n)), 2)
    return open_, high, low, close


def hourly_bars(n: int, seed: int, symbol: str = "T") -> BarArrays:
    """24/7 hourly bars from 2024-01-01 00:00 UTC."""
    opened_at = 1_704_067_200_000_000_000 + np.arange(n, dtype=np.int64) * HOUR_NS
    return BarArrays(symbol, "1h", opened_at, *_prices(n, seed), np.ones(n))


def exchange_bars(seed: int) -> BarArrays:
    """30-minute bars of the NYSE's sessions over two weeks of January 2024."""
    first = int(np.datetime64("2024-01-08T00:00", "ns").astype(np.int64))
    last = int(np.datetime64("2024-01-20T00:00", "ns").astype(np.int64))
    opened_at = market_calendar("XNYS").expected_opens(first, last, "30m")
    n = len(opened_at)
    return BarArrays("T", "30m", opened_at, *_prices(n, seed), np.ones(n))


def busy_sides(n: int, seed: int, hold: int = 3) -> np.ndarray:
    """Random target sides held `hold` bars each: many entries and exits."""
    rng = np.random.default_rng(seed)
    sides = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=n, p=[0.3, 0.3, 0.4])
    return np.repeat(sides[::hold], hold)[:n]


def make_spec(timeframe: str = "1h", legs: int = 1, **overrides: Any) -> BacktestSpec:
    data: dict[str, Any] = {
        "legs": [
            {"symbol": f"S{i}" if legs > 1 else "T", "strategy": {"name": "given"}}
            for i in range(legs)
        ],
        "timeframe": timeframe,
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2030, 1, 1, tzinfo=UTC),
        "initial_cash": Decimal(10_000),
        "fees": {"rate": "0.001", "fixed": "0.5"},
        "slippage_bps": "5",
        "allow_short": True,
        "sizing": {"mode": "fraction_of_equity", "value": "0.3"},
    }
    data.update(overrides)
    return BacktestSpec.model_validate(data)


FILLS = ("next_open", "same_close")


@pytest.mark.parametrize("fill", FILLS)
def test_max_trades_per_day_caps_entries_per_utc_day(fill: str) -> None:
    bars = hourly_bars(24 * 10, seed=1)
    sides = busy_sides(len(bars), seed=2, hold=2)
    free = run_signals(make_spec(fill=fill), [bars], [sides])
    capped = run_signals(make_spec(fill=fill, risk={"max_trades_per_day": 2}), [bars], [sides])
    per_day = Counter(t.entry_at.date() for t in capped.trades)
    assert max(Counter(t.entry_at.date() for t in free.trades).values()) > 2
    assert max(per_day.values()) == 2
    refused = [r for r in capped.rejections if r.reason == "max_trades_per_day"]
    assert refused
    for rejection in refused:  # refused only once the day's two entries filled
        assert per_day[rejection.rejected_at.date()] == 2


@pytest.mark.parametrize("fill", FILLS)
def test_max_open_positions_counts_legs_holding_a_position(fill: str) -> None:
    legs = [hourly_bars(300, seed=10 + i, symbol=f"S{i}") for i in range(3)]
    sides = [busy_sides(300, seed=20 + i, hold=5) for i in range(3)]
    spec = make_spec(
        legs=3, fill=fill, risk={"max_open_positions": 2},
        sizing={"mode": "fraction_of_equity", "value": "0.2"},
    )  # fmt: skip
    result = run_signals(spec, legs, sides)
    held = np.zeros(301, dtype=np.int64)  # legs holding a position at each bar's end
    for trade in result.trades:
        held[trade.entry_bar : trade.exit_bar] += 1
    assert held.max() == 2
    assert any(r.reason == "max_open_positions" for r in result.rejections)
    free = run_signals(make_spec(legs=3, fill=fill), legs, sides)
    free_held = np.zeros(301, dtype=np.int64)
    for trade in free.trades:
        free_held[trade.entry_bar : trade.exit_bar] += 1
    assert free_held.max() == 3  # the limit is what kept the third leg out


@pytest.mark.parametrize("fill", FILLS)
def test_max_holding_bars_exits_after_n_bars(fill: str) -> None:
    bars = hourly_bars(400, seed=3)
    sides = busy_sides(len(bars), seed=4, hold=20)
    result = run_signals(make_spec(fill=fill, risk={"max_holding_bars": 6}), [bars], [sides])
    timed = [t for t in result.trades if t.exit_reason == "max_holding"]
    assert timed
    assert all(t.exit_bar - t.entry_bar == 6 for t in timed)
    assert all(t.exit_bar - t.entry_bar <= 6 for t in result.trades)
    # The timed-out side is not re-entered while the signal still wants it.
    for trade in timed:
        later = [t for t in result.trades if t.leg == trade.leg and t.entry_bar >= trade.exit_bar]
        if later:
            nxt = min(later, key=lambda t: t.entry_bar)
            between = sides[trade.exit_bar - 1 : nxt.entry_bar]
            side = 1 if trade.side == PositionSide.LONG else -1
            assert nxt.side != trade.side or (between != side).any()


@pytest.mark.parametrize("fill", FILLS)
def test_flat_at_session_close_holds_nothing_overnight(fill: str) -> None:
    bars = exchange_bars(seed=5)
    sides = busy_sides(len(bars), seed=6, hold=4)
    last = market_calendar("XNYS").session_last(bars.opened_at, "30m")
    assert last.sum() == 9  # nine sessions (15 January is a holiday), each ending at 15:30
    spec = make_spec("30m", fill=fill, calendar="XNYS", risk={"flat_at_session_close": True})
    result = run_signals(spec, [bars], [sides])
    closed = [t for t in result.trades if t.exit_reason == "session_close"]
    assert closed
    for trade in result.trades:
        session = np.searchsorted(np.flatnonzero(last), trade.entry_bar)
        assert trade.exit_bar <= np.flatnonzero(last)[session]  # left within its session
        assert not last[trade.entry_bar]  # no entry on a session's last bar
    assert all(last[t.exit_bar] for t in closed)
    free = run_signals(make_spec("30m", fill=fill, calendar="XNYS"), [bars], [sides])
    assert any(
        t.exit_bar > np.flatnonzero(last)[np.searchsorted(np.flatnonzero(last), t.entry_bar)]
        for t in free.trades
    )  # without the rule some position is held overnight


def test_flat_at_session_close_never_fires_on_crypto() -> None:
    bars = hourly_bars(300, seed=7)
    sides = busy_sides(len(bars), seed=8)
    plain = run_signals(make_spec(calendar="crypto"), [bars], [sides])
    ruled = run_signals(
        make_spec(calendar="crypto", risk={"flat_at_session_close": True}), [bars], [sides]
    )
    assert ruled.result_hash == plain.result_hash
    assert ruled.to_dict() == plain.to_dict()


@pytest.mark.parametrize("fill", FILLS)
def test_min_confidence_refuses_entries_not_exits(fill: str) -> None:
    bars = hourly_bars(300, seed=9)
    sides = busy_sides(len(bars), seed=10, hold=4)
    confidence = np.random.default_rng(11).uniform(0.0, 1.0, len(bars))
    spec = make_spec(fill=fill, risk={"min_confidence": "0.5"})
    result = run_signals(spec, [bars], [sides], [confidence])
    refused = [r for r in result.rejections if r.reason == "low_confidence"]
    assert refused
    assert all(confidence[r.bar_index] < 0.5 for r in refused)
    decided = 1 if fill == "next_open" else 0  # entries fill a bar after their decision
    for trade in result.trades:
        assert confidence[trade.entry_bar - decided] >= 0.5
    # Exits are never filtered: an unsure signal still closes what it leaves.
    assert any(
        confidence[t.exit_bar - decided] < 0.5 for t in result.trades if t.exit_reason == "signal"
    )
    sure = run_signals(spec, [bars], [sides])  # no confidence given: all ones
    assert sure.to_dict() == run_signals(make_spec(fill=fill), [bars], [sides]).to_dict()


def test_ensemble_confidence_is_the_vote_share() -> None:
    from velocitas.strategies import registry

    bars = hourly_bars(400, seed=12)
    members = [
        {"name": "sma_cross", "params": {"fast": 5, "slow": 20}, "weight": 2.0},
        {"name": "sma_cross", "params": {"fast": 10, "slow": 40}, "weight": 1.0},
        {"name": "sma_cross", "params": {"fast": 3, "slow": 30}, "weight": 1.0},
    ]
    ensemble = registry.build("ensemble", {"members": members, "threshold": 0.0})
    sides, confidence = ensemble.signals_with_confidence(bars)
    assert confidence is not None
    np.testing.assert_array_equal(sides, ensemble.signals(bars))
    votes = sum(m["weight"] * registry.build(m["name"], m["params"]).signals(bars) for m in members)
    np.testing.assert_allclose(confidence, np.abs(votes) / 4.0)
    rule = registry.build("sma_cross", {"fast": 5, "slow": 20})
    assert rule.signals_with_confidence(bars)[1] is None  # a rule is sure: all ones


RULES = {
    "trades_per_day": {"risk": {"max_trades_per_day": 3}},
    "holding": {"risk": {"max_holding_bars": 5}},
    "holding_stops": {
        "risk": {"max_holding_bars": 8, "max_drawdown": "0.2"},
        "stops": {"stop_loss": {"kind": "percent", "value": "0.02"}},
    },
    "open_positions": {"risk": {"max_open_positions": 1}},
    "confidence": {"risk": {"min_confidence": "0.4"}},
    "everything": {
        "risk": {
            "max_trades_per_day": 4,
            "max_holding_bars": 7,
            "min_confidence": "0.3",
            "max_daily_loss": "0.03",
        }
    },
}


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("case", sorted(RULES))
def test_stepper_equals_the_kernel_under_each_rule(case: str, fill: str) -> None:
    bars = hourly_bars(500, seed=len(case))
    sides = busy_sides(len(bars), seed=len(case) + 1, hold=4)
    confidence = np.random.default_rng(len(case)).uniform(0.0, 1.0, len(bars))
    spec = make_spec(fill=fill, **RULES[case])
    _assert_stepper_equals_kernel(spec, bars, sides, confidence, start=13)


@pytest.mark.parametrize("fill", FILLS)
def test_stepper_equals_the_kernel_at_session_closes(fill: str) -> None:
    bars = exchange_bars(seed=21)
    sides = busy_sides(len(bars), seed=22, hold=3)
    # The lot is given: the Stepper takes the spec as it is, where `run_signals` would put an
    # unset lot on the exchange's whole shares.
    spec = make_spec(
        "30m", fill=fill, calendar="XNYS",
        risk={"flat_at_session_close": True, "max_holding_bars": 6},
        sizing={"mode": "fraction_of_equity", "value": "0.3", "lot_size": "0.001"},
    )  # fmt: skip
    _assert_stepper_equals_kernel(spec, bars, sides, np.ones(len(bars)), start=0)


def _assert_stepper_equals_kernel(
    spec: BacktestSpec, bars: BarArrays, sides: np.ndarray, confidence: np.ndarray, start: int
) -> None:
    sides = sides.copy()
    sides[:start] = 0
    stepper = Stepper(spec, bars)
    stepper.reset(start)
    for t in range(start, len(bars) - 1):
        stepper.step(int(sides[t]), float(confidence[t]))
    stepper.finish(int(sides[-1]))
    confidence = confidence.copy()
    confidence[-1] = 1.0  # `finish` decides with full confidence
    reference = run_signals(spec, [bars], [sides], [confidence])
    np.testing.assert_array_equal(stepper.equity[start:], reference.equity.equity[start:])
    ledger = stepper.ledger()
    assert ledger.fills == reference.fills
    assert ledger.trades == reference.trades
    assert ledger.rejections == reference.rejections
    assert len(reference.trades) > 3


def test_the_entry_checks_are_callable_with_an_oms_counters() -> None:
    cfg = kernel_config(make_spec(risk={"max_open_positions": 2, "max_trades_per_day": 5}))
    assert count_refusal(1, 4, cfg) == 0
    assert count_refusal(2, 0, cfg) == REJECT_MAX_OPEN_POSITIONS
    assert count_refusal(0, 5, cfg) == REJECT_MAX_TRADES_PER_DAY
    unlimited = kernel_config(make_spec())
    assert count_refusal(1_000, 1_000, unlimited) == 0
    assert confidence_refusal(0.0, unlimited) == 0
    sure = kernel_config(make_spec(risk={"min_confidence": "0.6"}))
    assert confidence_refusal(0.6, sure) == 0
    assert confidence_refusal(0.59, sure) == REJECT_LOW_CONFIDENCE
    assert confidence_refusal(float("nan"), sure) == REJECT_LOW_CONFIDENCE


@pytest.mark.parametrize(
    ("risk", "field"),
    [
        ({"max_trades_per_day": 0}, "max_trades_per_day"),
        ({"max_open_positions": -1}, "max_open_positions"),
        ({"max_holding_bars": 0}, "max_holding_bars"),
        ({"max_holding_bars": 10**9}, "max_holding_bars"),
        ({"min_confidence": "1.5"}, "min_confidence"),
        ({"min_confidence": "NaN"}, "min_confidence"),
        ({"flat_at_session_close": "sometimes"}, "flat_at_session_close"),
    ],
)
def test_risk_spec_refuses_bad_values_naming_the_field(risk: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_spec(risk=risk)
    assert field in str(info.value)


def test_session_last_marks_each_sessions_final_bar() -> None:
    xnys = market_calendar("XNYS")
    bars = exchange_bars(seed=0)
    last = xnys.session_last(bars.opened_at, "30m")
    stamps = bars.opened_at[last].astype("datetime64[ns]").astype(str)
    assert all(s.endswith("T20:30:00.000000000") for s in stamps)  # 15:30 New York, winter
    days = np.unique(bars.opened_at // DAY_NS)
    assert len(stamps) == len(days)
    assert xnys.session_last(bars.opened_at[:-3], "30m")[-1] == np.False_  # ends mid-session
    daily = np.arange(5, dtype=np.int64) * DAY_NS + 1_704_672_000_000_000_000
    assert xnys.session_last(daily, "1d").all()
    assert not market_calendar("crypto").session_last(bars.opened_at, "30m").any()


def test_run_backtest_filters_an_ensembles_unsure_entries() -> None:
    from velocitas.engine import run_backtest

    bars = hourly_bars(600, seed=13)
    members = [
        {"name": "sma_cross", "params": {"fast": 5, "slow": 20}, "weight": 2.0},
        {"name": "sma_cross", "params": {"fast": 10, "slow": 40}},
        {"name": "momentum", "params": {"period": 12}},
    ]
    strategy = {"name": "ensemble", "params": {"members": members, "threshold": 0.0}}
    legs = [{"symbol": "T", "strategy": strategy}]
    ensemble = BacktestSpec.model_validate(make_spec().model_dump(mode="json") | {"legs": legs})
    loose = run_backtest(ensemble, {"T": bars})
    strict_risk = ensemble.risk.model_copy(update={"min_confidence": Decimal("0.5")})
    strict = run_backtest(ensemble.model_copy(update={"risk": strict_risk}), {"T": bars})
    assert any(r.reason == "low_confidence" for r in strict.rejections)
    assert not any(r.reason == "low_confidence" for r in loose.rejections)
    # Entries led by the weight-2 member (a share of at least 0.5) pass, the others' not.
    assert 0 < len(strict.trades) < len(loose.trades)

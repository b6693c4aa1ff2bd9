"""velocitas.engine.stepper: stepping target sides bar by bar equals `run_signals` on the same
sides."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.engine.runner import run_signals
from velocitas.engine.stepper import Stepper

HOUR_NS = 3_600_000_000_000


def _bars(n: int, seed: int) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.003, n)), 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)), 2)
    opened_at = 1_704_067_200_000_000_000 + np.arange(n, dtype=np.int64) * HOUR_NS
    return BarArrays("T", "1h", opened_at, open_, high, low, close, np.ones(n))


def _spec(**overrides: Any) -> BacktestSpec:
    data: dict[str, Any] = {
        "symbol": "T",
        "strategy": {"name": "policy"},
        "timeframe": "1h",
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2030, 1, 1, tzinfo=UTC),
        "initial_cash": Decimal(10_000),
        "fees": {"rate": "0.001", "fixed": "0.5"},
        "slippage_bps": "5",
        "allow_short": True,
    }
    data.update(overrides)
    return BacktestSpec.model_validate(data)


SPECS = {
    "plain": {},
    "long_only": {"allow_short": False},
    "stops": {
        "stops": {
            "stop_loss": {"kind": "percent", "value": "0.02"},
            "take_profit": {"kind": "atr", "value": "3", "atr_period": 14},
            "trailing_stop": {"kind": "percent", "value": "0.03"},
        }
    },
    "risk": {
        "risk": {"max_daily_loss": "0.02", "max_drawdown": "0.15"},
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
    },
    "cooldown": {"risk": {"cooldown_losses": 2, "cooldown_bars": 5}},
    "same_close": {"fill": "same_close"},
    "same_close_stops": {
        "fill": "same_close",
        "stops": {"stop_loss": {"kind": "atr", "value": "1.5"}},
        "risk": {"max_drawdown": "0.2"},
    },
}


@pytest.mark.parametrize("case", sorted(SPECS))
@pytest.mark.parametrize("start", [0, 37])
def test_stepper_equals_run_signals_on_same_sides(case: str, start: int) -> None:
    bars = _bars(600, seed=len(case))
    spec = _spec(**SPECS[case])
    rng = np.random.default_rng(start + len(case))
    sides = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=len(bars), p=[0.3, 0.3, 0.4])
    sides = np.repeat(sides[::6], 6)[: len(bars)]  # hold each side a few bars
    sides[:start] = 0
    stepper = Stepper(spec, bars)
    stepper.reset(start)
    for t in range(start, len(bars) - 1):
        stepper.step(int(sides[t]))
    stepper.finish(int(sides[-1]))
    reference = run_signals(spec, [bars], [sides])
    np.testing.assert_array_equal(stepper.signals, sides)
    np.testing.assert_array_equal(stepper.equity[start:], reference.equity.equity[start:])
    ledger = stepper.ledger()
    assert ledger.fills == reference.fills
    assert ledger.trades == reference.trades
    assert ledger.rejections == reference.rejections
    assert ledger.final_equity == reference.final_equity
    assert len(reference.trades) > 3


def test_stepper_step_returns_fees_of_the_bar_and_equity() -> None:
    bars = _bars(50, seed=1)
    stepper = Stepper(_spec(), bars)
    equity0 = stepper.reset(0)
    assert equity0 == 10_000.0
    equity1, fees1, halted = stepper.step(1)  # decided at bar 0's close, bought at bar 1's open
    assert fees1 > 0.0
    assert not halted
    fills = stepper.fill_records()
    assert len(fills) == 1
    assert fees1 == pytest.approx(fills[0, 5])
    assert equity1 == stepper.equity[1]


def test_stepper_past_the_last_bar_is_refused() -> None:
    stepper = Stepper(_spec(), _bars(3, seed=2))
    stepper.reset(1)
    stepper.step(0)
    with pytest.raises(IndexError):
        stepper.step(0)


def test_stepper_reset_leaves_nothing_of_the_previous_episode() -> None:
    bars = _bars(300, seed=5)
    spec = _spec(**SPECS["risk"])
    sides = np.tile(np.array([1, 1, 0, -1, -1, 0], dtype=np.int8), 50)
    used = Stepper(spec, bars)
    used.reset(120)
    for t in range(120, 250):
        used.step(int(sides[t]))
    fresh = Stepper(spec, bars)
    for stepper in (used, fresh):
        stepper.reset(40)
        for t in range(40, len(bars) - 1):
            stepper.step(int(sides[t]))
    np.testing.assert_array_equal(used.equity, fresh.equity)
    np.testing.assert_array_equal(used.signals, fresh.signals)
    assert used.ledger().trades == fresh.ledger().trades


def test_stepper_runs_the_kernels_bar_function_not_its_own_rules() -> None:
    import velocitas.engine.kernel
    import velocitas.engine.stepper

    rules = {"open_position", "close_position", "walk_bar", "equity_of", "_decide"}
    assert rules.isdisjoint(vars(velocitas.engine.stepper))
    assert velocitas.engine.stepper.run_bars is velocitas.engine.kernel.run_bars


def test_stepper_same_close_reports_pre_decision_equity_then_final() -> None:
    bars = _bars(40, seed=3)
    stepper = Stepper(_spec(fill="same_close"), bars)
    stepper.reset(0)
    equity, fees, _ = stepper.step(1)  # bought at bar 0's close; bar 1 runs to its close
    assert fees > 0.0
    assert stepper.fill_records()[0, 0] == 0  # the fill is at bar 0
    assert equity == stepper.equity[1]
    before = stepper.equity[1]
    stepper.step(0)  # sold at bar 1's close: bar 1's equity becomes the post-fill one
    assert stepper.equity[1] != before

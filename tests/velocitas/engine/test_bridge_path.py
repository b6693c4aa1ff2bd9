"""The `bridge` intrabar path model: the backtest walks the very ticks a session replays.

`run_signals` with `stops.intrabar_path = "bridge"` is held equal to a plain-Python reference that
draws the ticks with `series_ticks` (what the trader's replay feed draws) and walks them tick by
tick with the fill rule written out here, on synthetic bars and on real daily bars (GOOG); the
Stepper (the RL environment's engine) is held equal to the kernel with the bridge too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tests.velocitas.engine.market import gbm_bars, sma_cross, spec
from velocitas.domain.bars import BarArrays
from velocitas.domain.positions import PositionSide
from velocitas.engine import BacktestSpec, Stepper, run_signals
from velocitas.engine.ticks import series_ticks

NS_PER_DAY = 86_400 * 1_000_000_000
SLIPPAGE = 0.0005  # 5 bps
DECIMALS = 8


@dataclass(frozen=True)
class RefTrade:
    side: int
    entry_bar: int
    entry_price: float
    exit_bar: int
    exit_price: float
    reason: str


def _reference(
    bars: BarArrays,
    sides: np.ndarray,
    *,
    seed: int,
    n_ticks: int,
    stop_loss: float,
    take_profit: float,
    trailing: float,
) -> list[RefTrade]:
    """Next-open fills, whole-position exits, percent levels from the entry fill price; a level
    fires at the first tick at or beyond it and fills at that tick (plus slippage unless a take
    profit); a stopped-out side waits for the signal to leave it; end of data closes at the
    last close."""
    ticks = series_ticks(
        seed, bars.symbol, bars.opened_at, bars.open, bars.high, bars.low, bars.close, n_ticks
    )
    trades: list[RefTrade] = []
    pos, pending, blocked, last = 0, None, None, None
    entry_bar, entry, sl, tp, extreme = 0, 0.0, 0.0, 0.0, 0.0

    def close(t: int, raw: float, reason: str) -> None:
        slip = 0.0 if reason == "take_profit" else SLIPPAGE
        price = round(raw * (1.0 - pos * slip), DECIMALS)
        trades.append(RefTrade(pos, entry_bar, entry, t, price, reason))

    for t in range(len(bars)):
        if pending is not None:
            target, pending = pending, None
            if pos != 0 and target != pos:
                close(t, bars.open[t], "signal")
                pos = 0
            if target != 0 and pos == 0:
                pos, entry_bar = target, t
                entry = round(bars.open[t] * (1.0 + pos * SLIPPAGE), DECIMALS)
                sl = entry * (1.0 - pos * stop_loss)
                tp = entry * (1.0 + pos * take_profit)
                extreme = entry
        if pos != 0:
            for price in ticks[t]:
                trail = extreme * (1.0 - pos * trailing)
                stop, why = (
                    (trail, "trailing_stop") if pos * trail > pos * sl else (sl, "stop_loss")
                )
                if pos * price <= pos * stop or pos * price >= pos * tp:
                    close(t, price, why if pos * price <= pos * stop else "take_profit")
                    blocked, pos = pos, 0
                    break
                extreme = max(extreme, price) if pos > 0 else min(extreme, price)
        if t == len(bars) - 1:
            if pos != 0:
                close(t, bars.close[t], "end_of_data")
            break
        signal = int(sides[t])
        if signal == last:
            continue
        last = target = signal
        if blocked is not None:
            if target == blocked:
                target = pos
            else:
                blocked = None
        pending = target if target != pos else None
    return trades


def _bridge_spec(symbol: str, timeframe: str, **overrides: Any) -> BacktestSpec:
    return spec(
        (symbol,),
        timeframe=timeframe,
        start=datetime(2000, 1, 1, tzinfo=UTC),
        initial_cash="1000000000",
        fees={"rate": "0.001"},
        slippage_bps="5",
        sizing={"mode": "fixed_quantity", "value": "1", "lot_size": "1"},
        allow_short=True,
        **overrides,
    )


def _stops(sl: float, tp: float, trail: float, seed: int, n_ticks: int) -> dict[str, Any]:
    return {
        "stop_loss": {"kind": "percent", "value": str(sl)},
        "take_profit": {"kind": "percent", "value": str(tp)},
        "trailing_stop": {"kind": "percent", "value": str(trail)},
        "intrabar_path": "bridge",
        "tick_seed": seed,
        "ticks_per_bar": n_ticks,
    }


def _goog() -> BarArrays:
    goog = pytest.importorskip("backtesting.test").GOOG
    opened = (
        goog.index.values.astype("datetime64[ns]").astype(np.int64) // NS_PER_DAY
    ) * NS_PER_DAY
    cols = [goog[name].to_numpy(dtype=np.float64) for name in ("Open", "High", "Low", "Close")]
    return BarArrays("GOOG", "1d", opened.astype(np.int64), *cols, np.ones(len(goog)))


def _check(bars: BarArrays, sides: np.ndarray, sl: float, tp: float, trail: float) -> None:
    for seed, n_ticks in ((0, 60), (12345, 17)):
        stops = _stops(sl, tp, trail, seed, n_ticks)
        result = run_signals(
            _bridge_spec(bars.symbol, bars.timeframe, stops=stops), [bars], [sides]
        )
        want = _reference(
            bars, sides, seed=seed, n_ticks=n_ticks, stop_loss=sl, take_profit=tp, trailing=trail
        )
        got = [
            (
                1 if t.side == PositionSide.LONG else -1,
                t.entry_bar,
                t.exit_bar,
                t.exit_reason,
            )
            for t in result.trades
        ]
        assert got == [(r.side, r.entry_bar, r.exit_bar, r.reason) for r in want]
        for trade, ref in zip(result.trades, want, strict=True):
            assert float(trade.entry_price) == pytest.approx(ref.entry_price, rel=1e-12)
            assert float(trade.exit_price) == pytest.approx(ref.exit_price, rel=1e-12)
        reasons = {r.reason for r in want}
        assert {"stop_loss", "take_profit", "trailing_stop"} <= reasons


def test_bridge_backtest_equals_the_tick_walk_reference_on_synthetic_bars() -> None:
    bars = gbm_bars(6_000, seed=21, vol=0.003)
    sides = sma_cross(bars.close, 6, 25, short=True)
    _check(bars, sides, sl=0.004, tp=0.006, trail=0.005)


def test_bridge_backtest_equals_the_tick_walk_reference_on_real_daily_bars() -> None:
    bars = _goog()
    sides = sma_cross(bars.close, 5, 20, short=True)
    _check(bars, sides, sl=0.03, tp=0.05, trail=0.04)


def test_bridge_differs_from_the_corner_paths_and_depends_on_the_seed() -> None:
    bars = gbm_bars(4_000, seed=8, vol=0.003)
    sides = sma_cross(bars.close, 6, 25, short=True)
    stops = _stops(0.003, 0.004, 0.0035, 0, 60)

    def trades(**change: Any) -> list[tuple[int, str]]:
        run = _bridge_spec(bars.symbol, bars.timeframe, stops=stops | change)
        return [(t.exit_bar, t.exit_reason) for t in run_signals(run, [bars], [sides]).trades]

    bridge = trades()
    assert bridge != trades(intrabar_path="pessimistic")
    assert bridge != trades(tick_seed=1)
    assert bridge == trades()


@pytest.mark.parametrize("fill", ["next_open", "same_close"])
def test_stepper_with_bridge_equals_the_kernel(fill: str) -> None:
    bars = gbm_bars(800, seed=4, vol=0.004)
    bars = BarArrays(
        "T", "1h", bars.opened_at * 60, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    stops = _stops(0.004, 0.006, 0.005, 77, 40)
    run = _bridge_spec("T", "1h", stops=stops, fill=fill, risk={"max_drawdown": "0.5"})
    rng = np.random.default_rng(2)
    sides = np.repeat(rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=200), 4)
    stepper = Stepper(run, bars)
    stepper.reset(0)
    for t in range(len(bars) - 1):
        stepper.step(int(sides[t]))
    stepper.finish(int(sides[-1]))
    reference = run_signals(run, [bars], [sides])
    np.testing.assert_array_equal(stepper.equity, reference.equity.equity)
    ledger = stepper.ledger()
    assert ledger.fills == reference.fills
    assert ledger.trades == reference.trades
    assert {t.exit_reason for t in reference.trades} >= {"stop_loss", "take_profit"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_seed", -1),
        ("tick_seed", 2**53),
        ("ticks_per_bar", 3),
        ("ticks_per_bar", 10_001),
        ("intrabar_path", "brownian"),
    ],
)
def test_bad_bridge_settings_are_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        _bridge_spec("X", "1m", stops={"intrabar_path": "bridge", field: value})


def test_the_bridge_settings_reach_the_kernel_configuration() -> None:
    from velocitas.engine.codes import CFG_PATH, CFG_TICK_SEED, CFG_TICKS_PER_BAR, PATH_BRIDGE
    from velocitas.engine.runner import kernel_config

    cfg = kernel_config(_bridge_spec("X", "1h", stops={"intrabar_path": "bridge", "tick_seed": 9}))
    assert (cfg[CFG_PATH], cfg[CFG_TICK_SEED], cfg[CFG_TICKS_PER_BAR]) == (PATH_BRIDGE, 9, 240)
    cfg = kernel_config(_bridge_spec("X", "1m", stops={"ticks_per_bar": 12}))
    assert cfg[CFG_TICKS_PER_BAR] == 12


def test_sweep_fast_path_walks_the_same_ticks_as_the_backtest() -> None:
    from velocitas.engine.runner import records_result, run_backtest
    from velocitas.research.runs import _with_params, fast_records

    bars = {"BTCUSDT": gbm_bars(3_000, seed=23, vol=0.004)}
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {}}}]
    the_spec = spec(legs=legs, allow_short=True, stops=_stops(0.004, 0.006, 0.005, 5, 30))
    params = {"fast": 5, "slow": 20}
    plan, fills, rejections, equity = fast_records(the_spec, bars, params)
    expected = run_backtest(_with_params(the_spec, params), bars)
    ours = records_result(
        plan.spec, plan.calendar, [plan.bars], plan.grid, fills, rejections, equity
    )
    assert ours.result_hash == expected.result_hash
    assert {t.exit_reason for t in expected.trades} >= {"stop_loss", "take_profit"}


def test_each_leg_walks_its_own_symbols_ticks_at_its_own_bar_times() -> None:
    """Two independent legs (fixed quantities, ample cash) on different time grids trade as
    each would alone: the kernel reads each leg's key and the grid's bar times."""
    first = gbm_bars(3_000, seed=31, vol=0.004, symbol="AAA")
    other = gbm_bars(3_200, seed=32, vol=0.004, symbol="BBB")
    keep = np.ones(len(other), dtype=bool)
    keep[::7] = False  # BBB misses bars AAA has, and runs on after AAA ends
    other = BarArrays(
        "BBB", "1m", other.opened_at[keep], other.open[keep], other.high[keep],
        other.low[keep], other.close[keep], other.volume[keep],
    )  # fmt: skip
    stops = _stops(0.004, 0.006, 0.005, 3, 60)
    sides = [sma_cross(b.close, 6, 25, short=True) for b in (first, other)]
    both = _bridge_spec("AAA", "1m", stops=stops)
    both = both.model_copy(
        update={"legs": [*both.legs, both.legs[0].model_copy(update={"symbol": "BBB"})]}
    )
    together = run_signals(both, [first, other], sides)
    for leg, (bars, leg_sides) in enumerate(zip((first, other), sides, strict=True)):
        alone = run_signals(_bridge_spec(bars.symbol, "1m", stops=stops), [bars], [leg_sides])
        mine = [t for t in together.trades if t.leg == leg]
        assert [(t.entry_at, t.exit_at, t.exit_reason, t.exit_price) for t in mine] == [
            (t.entry_at, t.exit_at, t.exit_reason, t.exit_price) for t in alone.trades
        ]
        assert {t.exit_reason for t in alone.trades} >= {"stop_loss", "take_profit"}

"""Arrays a sweep's combinations share (`velocitas.strategies.shared`): computed once inside
`sharing`, never kept outside it, read-only, bounded, thread-safe; and a sweep whose parameters
repeat a window gives the very rows of one `run_backtest` per combination."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from tests.velocitas.engine.market import gbm_bars, spec
from velocitas import indicators
from velocitas.research.grid import grid_combinations
from velocitas.research.runs import _declared_order
from velocitas.research.sweeps import run_sweep
from velocitas.strategies import registry
from velocitas.strategies.shared import SharedArrays, shared, sharing


class Counter:
    """`compute` functions that count their calls and return a fresh array each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: float = 1.0, size: int = 4) -> Any:
        def compute() -> np.ndarray:
            self.calls += 1
            return np.full(size, value)

        return compute


def test_outside_a_sweep_nothing_is_kept() -> None:
    bars, count = object(), Counter()
    first = shared(bars, "k", count())
    second = shared(bars, "k", count())
    assert count.calls == 2
    assert first is not second
    assert first.flags.writeable  # a single backtest's arrays are its own


def test_inside_a_sweep_a_key_is_computed_once_and_read_only() -> None:
    bars, count = object(), Counter()
    with sharing(bars) as arrays:
        first = shared(bars, ("rsi", "close", 14), count(1.0))
        again = shared(bars, ("rsi", "close", 14), count(2.0))
        other = shared(bars, ("rsi", "close", 15), count(3.0))
        elsewhere = shared(object(), ("rsi", "close", 14), count(4.0))
    assert again is first
    assert float(first[0]) == 1.0
    assert float(other[0]) == 3.0
    assert float(elsewhere[0]) == 4.0
    assert count.calls == 3
    assert (arrays.computed, arrays.reused) == (2, 1)
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 9.0
    assert shared(bars, ("rsi", "close", 14), count(5.0)) is not first  # the sweep has ended


def test_least_recently_used_arrays_leave_past_the_budget() -> None:
    bars, count = object(), Counter()
    with sharing(bars, budget_bytes=2 * 4 * 8):  # two arrays of four float64
        a = shared(bars, "a", count(size=4))
        shared(bars, "b", count(size=4))
        assert shared(bars, "a", count(size=4)) is a  # a is now the most recent
        shared(bars, "c", count(size=4))  # evicts b
        assert shared(bars, "a", count(size=4)) is a
        assert count.calls == 3
        shared(bars, "b", count(size=4))
        assert count.calls == 4


def test_two_threads_asking_at_once_compute_once() -> None:
    arrays, started, release = SharedArrays(), threading.Event(), threading.Event()
    calls = []

    def slow() -> np.ndarray:
        calls.append(1)
        started.set()
        release.wait(10)
        return np.arange(3.0)

    got: list[np.ndarray] = []
    first = threading.Thread(target=lambda: got.append(arrays.get("k", slow)))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: got.append(arrays.get("k", slow)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert len(calls) == 1
    assert len(got) == 2
    assert got[0] is got[1]


def test_a_failed_computation_is_not_kept() -> None:
    bars = object()

    def broken() -> np.ndarray:
        raise RuntimeError("no")

    with sharing(bars):
        with pytest.raises(RuntimeError, match="no"):
            shared(bars, "k", broken)
        assert float(shared(bars, "k", lambda: np.ones(1))[0]) == 1.0


def test_blocks_on_the_same_bars_nest() -> None:
    bars, count = object(), Counter()
    with sharing(bars):
        first = shared(bars, "k", count())
        with sharing(bars):
            assert shared(bars, "k", count()) is first
        assert shared(bars, "k", count()) is first  # the outer sweep still shares
    shared(bars, "k", count())
    assert count.calls == 2


BARS = {"BTCUSDT": gbm_bars(3_000, seed=31, vol=0.004)}
# Grids whose combinations repeat a window (or, for the ensemble, every member).
GRIDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "donchian_breakout": (
        {"period": [20, 30], "exit_period": [5, 10, 15]},
        {"allow_short": True},
    ),
    "rsi_reversion": ({"period": [7, 9], "lower": [20, 25, 30]}, {}),
    "bollinger_reversion": ({"period": [10, 20], "k": [1.0, 1.5, 2.5]}, {"allow_short": True}),
    "momentum": ({"period": [10, 20], "threshold": [0.0, 0.1, 0.3]}, {"allow_short": True}),
    "ensemble": (
        {"threshold": [0.0, 0.3, 0.6, 1.0]},
        {
            "members": [
                {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "allow_short": True}},
                {"name": "rsi_reversion", "params": {"period": 7}, "weight": 2.0},
                {"name": "momentum", "params": {"period": 15}, "weight": 0.5},
            ],
            "allow_short": True,
        },
    ),
}


@pytest.mark.parametrize("strategy", sorted(GRIDS))
def test_a_sweep_sharing_windows_gives_run_backtests_rows(strategy: str) -> None:
    grid, fixed = GRIDS[strategy]
    combos, _ = grid_combinations(strategy, grid, fixed=fixed)
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": strategy, "params": fixed}}]
    the_spec = spec(legs=legs, fees={"rate": "0.001"}, allow_short=True)
    fast = run_sweep(the_spec, BARS, combos, objective="total_return", workers=2)
    general = run_sweep(
        the_spec, BARS, combos, objective="total_return", workers=1, force_general=True
    )
    assert fast.path == "fast"
    assert general.path == "general"
    assert fast.rows == general.rows
    assert len({row["final_equity"] for row in fast.rows}) > 1  # the parameters mattered


def test_a_sweep_computes_a_shared_window_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_rsi = indicators.rsi

    def counted(close: Any, n: int = 14) -> Any:
        calls.append(n)
        return real_rsi(close, n)

    monkeypatch.setattr(indicators, "rsi", counted)
    grid, fixed = GRIDS["rsi_reversion"]
    combos, _ = grid_combinations("rsi_reversion", grid, fixed=fixed)
    legs = [{"symbol": "BTCUSDT", "strategy": {"name": "rsi_reversion", "params": {}}}]
    run_sweep(spec(legs=legs), BARS, combos, objective="total_return", workers=2)
    assert sorted(calls) == [7, 9]  # six combinations, two periods


def test_a_sweep_runs_combinations_sharing_a_window_one_after_another() -> None:
    # Whatever order the grid comes in, the fast path runs the combinations by the parameters'
    # declared order (period, then k): each period's moments are computed once and reused
    # before the LRU could drop them.
    combos, _ = grid_combinations("bollinger_reversion", {"k": [1.0, 2.0], "period": [30, 10]})
    strategies = [registry.build("bollinger_reversion", c) for c in combos]
    ran = [
        strategies[i].params for i in sorted(range(4), key=lambda i: _declared_order(strategies[i]))
    ]
    assert [(p.period, p.k) for p in ran] == [(10, 1.0), (10, 2.0), (30, 1.0), (30, 2.0)]

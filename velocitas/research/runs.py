"""Measuring a sweep's runs: every combination's ranking metrics, by one of two paths that give
the same numbers.

- the fast path (`velocitas.engine.sweep_kernel`): any one-leg spec, whatever its strategy,
  stops, risk rules, sizing or fill mode. Each combination's target sides come from the
  strategy itself (`Strategy.signals`, the call `run_backtest` makes), its fills from the
  backtest kernel's own per-bar rules, its metrics from the functions the report uses and its
  final equity and trades from the exact ledger: the same numbers as `run_backtest`, without
  the report, the result hash or the per-trade objects. Combinations run on threads: the
  simulation (and the strategies' numba loops) release the GIL.
- the general path: `run_backtest` per combination in a process pool, for any spec.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.calendars import MarketCalendar
from velocitas.domain.bars import BarArrays
from velocitas.engine.alignment import AlignedBars, align
from velocitas.engine.codes import F_COLUMNS, R_COLUMNS
from velocitas.engine.ledger import LegLabel, build_ledger
from velocitas.engine.records import TradeRecords
from velocitas.engine.runner import (
    _atr_grid,
    confidence_grid,
    day_grid,
    kernel_config,
    leg_keys,
    market_spec,
    run_backtest,
    select_bars,
    session_grid,
)
from velocitas.engine.spec import BacktestSpec, StrategyRef
from velocitas.engine.sweep_kernel import (
    C_DEEPEST,
    C_DOWNSIDE,
    C_MEAN,
    C_STD,
    C_VALID,
    simulate_combination,
)
from velocitas.errors import InvalidRequest
from velocitas.metrics import (
    _ratio,
    _rf_per_period,
    calmar_ratio,
    elapsed_cagr,
    periods_per_year,
    profit_factor,
)
from velocitas.strategies import registry
from velocitas.strategies.base import Strategy
from velocitas.strategies.shared import sharing

__all__ = [
    "FastPlan",
    "Progress",
    "fast_path_supported",
    "fast_records",
    "fast_runs",
    "general_runs",
]

Progress = Callable[[int, int], None]


def fast_path_supported(spec: BacktestSpec, combinations: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the threaded fast path covers this sweep: every one-leg spec (the same results
    as `run_backtest`, which the tests check for every registered strategy)."""
    return len(spec.legs) == 1


def _with_params(spec: BacktestSpec, params: Mapping[str, Any]) -> BacktestSpec:
    leg = spec.legs[0]
    strategy = StrategyRef(name=leg.strategy.name, params={**leg.strategy.params, **params})
    legs = [leg.model_copy(update={"strategy": strategy}), *spec.legs[1:]]
    return spec.model_copy(update={"legs": legs})


@dataclass(frozen=True, eq=False)
class FastPlan:
    """What every combination of a one-leg sweep shares: the run's spec (with the market's lot),
    calendar, bars, time grid, kernel configuration and ATR arrays, prepared once."""

    spec: BacktestSpec
    calendar: MarketCalendar
    bars: BarArrays
    grid: AlignedBars
    cfg: npt.NDArray[np.float64]
    day: npt.NDArray[np.int64]
    session_last: npt.NDArray[np.bool_]
    atr: tuple[np.ndarray, np.ndarray, np.ndarray]
    per_year: float
    rf: float
    keys: npt.NDArray[np.int64]

    @classmethod
    def of(cls, spec: BacktestSpec, bars: Mapping[str, BarArrays]) -> FastPlan:
        (leg_bars,) = select_bars(spec, bars)
        spec, calendar = market_spec(spec, [leg_bars])  # the calendar and lot run_backtest uses
        grid = align([leg_bars])
        stops = spec.stops
        per_year = periods_per_year(spec.timeframe, calendar)
        return cls(
            spec=spec,
            calendar=calendar,
            bars=leg_bars,
            grid=grid,
            cfg=kernel_config(spec),
            day=day_grid(spec, grid),
            session_last=session_grid(spec, grid),
            atr=(
                _atr_grid(stops.stop_loss, [leg_bars], grid),
                _atr_grid(stops.take_profit, [leg_bars], grid),
                _atr_grid(stops.trailing_stop, [leg_bars], grid),
            ),
            per_year=per_year,
            rf=_rf_per_period(float(spec.risk_free_rate), per_year),
            keys=leg_keys(spec),
        )

    def strategy(self, params: Mapping[str, Any], index: int) -> Strategy:
        """Leg 0's strategy with `params` over the spec's own, validated like `run_backtest`."""
        leg = self.spec.legs[0].strategy
        return registry.build(leg.name, {**leg.params, **params}, field=f"combinations[{index}]")


class _Buffers(threading.local):
    """One thread's scratch: the equity curve and record buffers, reused run after run."""

    def __init__(self) -> None:
        self.equity = np.empty(0)
        self.fills = np.empty((0, F_COLUMNS))
        self.rejections = np.empty((0, R_COLUMNS))


def _simulate(
    plan: FastPlan, strategy: Strategy, buffers: _Buffers
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fill records, rejection records, equity curve, statistics) of one combination; the
    arrays are views of the thread's buffers, valid until its next run."""
    bars, grid = plan.bars, plan.grid
    n = len(bars)
    confidence = None
    if plan.spec.risk.min_confidence is None:
        sides = np.asarray(strategy.signals(bars), dtype=np.int8)  # what strategy_signals returns
    else:  # what strategy_decisions returns
        raw, confidence = strategy.signals_with_confidence(bars)
        sides = np.asarray(raw, dtype=np.int8)
    if len(sides) != n:
        raise InvalidRequest(f"leg 0: {len(sides)} signals for {n} bars", field="legs")
    confidences = confidence_grid(plan.spec, [bars], [confidence], grid)
    if len(buffers.equity) != n:
        buffers.equity = np.empty(n)
    counts, buffers.fills, buffers.rejections, stats = simulate_combination(
        grid.open, grid.high, grid.low, grid.close, grid.has_bar, sides.reshape(n, 1), plan.day,
        *plan.atr, np.asarray([float(plan.spec.legs[0].weight)]), plan.cfg,
        float(plan.spec.initial_cash), plan.rf, buffers.equity, buffers.fills, buffers.rejections,
        grid.opened_at, plan.keys,
        confidences, plan.session_last,
    )  # fmt: skip
    if stats[C_VALID] == 0.0:
        raise InvalidRequest("leg 0: target sides must be -1, 0 or +1", field="legs")
    return (
        buffers.fills[: counts[0]],
        buffers.rejections[: counts[1]],
        buffers.equity,
        stats,
    )


def _ledger(plan: FastPlan, fills: np.ndarray, rejections: np.ndarray) -> Any:
    spec = plan.spec
    leg = spec.legs[0]
    return build_ledger(
        fills, rejections, plan.grid.opened_at, [LegLabel(leg.symbol, leg.strategy.name)],
        initial_cash=spec.initial_cash, lot_size=spec.sizing.lot_size,
        fee_rate=spec.fees.rate, fee_fixed=spec.fees.fixed,
    )  # fmt: skip


def _measure(plan: FastPlan, strategy: Strategy, buffers: _Buffers) -> dict[str, Any]:
    """One combination's ranking metrics, as `general_runs` reports them from `run_backtest`."""
    fills, rejections, equity, stats = _simulate(plan, strategy, buffers)
    ledger = _ledger(plan, fills, rejections)
    trades = ledger.trades
    if isinstance(trades, TradeRecords):  # as `runner._trade_figures` reads them
        net = trades.net_pnl_floats()
    else:  # the Decimal ledger's trades (amounts beyond the scaled integers)
        net = np.asarray([float(t.net_pnl) for t in trades], dtype=np.float64)
    initial = float(plan.spec.initial_cash)
    final = float(equity[-1])
    deepest = float(stats[C_DEEPEST])
    growth = elapsed_cagr(
        initial, final, plan.grid.opened_at, plan.spec.timeframe, plan.calendar, from_open=True
    )
    return {
        "sharpe": _ratio(stats[C_MEAN], stats[C_STD], plan.per_year),
        "sortino": _ratio(stats[C_MEAN], stats[C_DOWNSIDE], plan.per_year),
        "calmar": calmar_ratio(growth, deepest),
        "total_return": final / initial - 1.0,
        "profit_factor": profit_factor(net),
        "max_drawdown": deepest,
        "trades": len(trades),
        "final_equity": str(ledger.final_equity),
        "return_periods": len(equity),
    }


def fast_runs(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    combinations: Sequence[Mapping[str, Any]],
    progress: Progress | None,
    *,
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """The ranking metrics of each combination, in order, by the fast path (check
    `fast_path_supported` first), on `workers` threads (default: every core)."""
    plan = FastPlan.of(spec, bars)
    strategies = [plan.strategy(params, index) for index, params in enumerate(combinations)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(strategies)))
    # Combinations share what their parameters share (an indicator's window, an ensemble's
    # members): `velocitas.strategies.shared`.
    with sharing(plan.bars):
        return _run_all(plan, strategies, workers, progress)


def _run_all(
    plan: FastPlan, strategies: Sequence[Strategy], workers: int, progress: Progress | None
) -> list[dict[str, Any]]:
    buffers = _Buffers()
    total = len(strategies)
    # Run in the order of the parameters' declaration, first parameter slowest: the built-ins
    # declare their window first, so the combinations sharing a window run one after another
    # and the shared arrays' LRU keeps it (a grid swept in another order would cycle through
    # every window and drop each before it is asked for again). Rows go back to their order.
    order = sorted(range(total), key=lambda i: _declared_order(strategies[i]))
    out: list[dict[str, Any]] = [{} for _ in range(total)]

    def measure(index: int) -> int:
        out[index] = _measure(plan, strategies[index], buffers)
        return index

    if workers == 1:
        for done, _ in enumerate(map(measure, order), start=1):
            if progress:
                progress(done, total)
        return out
    with ThreadPoolExecutor(workers, thread_name_prefix="sweep") as pool:
        for done, _ in enumerate(pool.map(measure, order), start=1):
            if progress:
                progress(done, total)
    return out


def _declared_order(strategy: Strategy) -> tuple[float, ...]:
    """The strategy's numeric parameters in their declaration order (others left out)."""
    params = strategy.params
    values = (getattr(params, name) for name in type(params).model_fields)
    return tuple(float(v) for v in values if isinstance(v, int | float))


def fast_records(
    spec: BacktestSpec, bars: Mapping[str, BarArrays], params: Mapping[str, Any]
) -> tuple[FastPlan, np.ndarray, np.ndarray, npt.NDArray[np.float64]]:
    """One combination by the fast path's own simulation: (plan, fill records, rejection
    records, equity curve), copies the caller keeps. For tests and audits: they equal
    `velocitas.engine.runner.simulate_legs`' outputs for the same parameters, and
    `runner.records_result` turns them into the `run_backtest` result, hash included."""
    plan = FastPlan.of(spec, bars)
    fills, rejections, equity, _ = _simulate(plan, plan.strategy(params, 0), _Buffers())
    return plan, fills.copy(), rejections.copy(), equity.copy()


_POOL_BARS: Mapping[str, BarArrays] = {}


def _init_pool(bars: Mapping[str, BarArrays]) -> None:
    global _POOL_BARS
    _POOL_BARS = bars


def _general_one(spec: BacktestSpec) -> dict[str, Any]:
    result = run_backtest(spec, _POOL_BARS)
    m = result.metrics
    return {
        "sharpe": m["sharpe"],
        "sortino": m["sortino"],
        "calmar": m["calmar"],
        "total_return": m["total_return"],
        "profit_factor": m["profit_factor"],
        "max_drawdown": m["max_drawdown"],
        "trades": len(result.trades),
        "final_equity": str(result.final_equity),
        "return_periods": len(result.equity),
    }


def general_runs(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    combinations: Sequence[Mapping[str, Any]],
    workers: int,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """The ranking metrics of each combination, in order, from a full `run_backtest` each, on
    `workers` processes (in this process when 1)."""
    specs = [_with_params(spec, c) for c in combinations]
    for index, child in enumerate(specs):
        leg = child.legs[0]
        registry.build(leg.strategy.name, leg.strategy.params, field=f"combinations[{index}]")
    total = len(specs)
    if workers <= 1 or total == 1:
        _init_pool(bars)
        out = []
        for done, child in enumerate(specs, start=1):
            out.append(_general_one(child))
            if progress:
                progress(done, total)
        return out
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(workers, initializer=_init_pool, initargs=(bars,)) as pool:
        for done, metrics in enumerate(pool.map(_general_one, specs), start=1):
            results.append(metrics)
            if progress:
                progress(done, total)
    return results

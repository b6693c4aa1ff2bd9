"""Measuring a sweep's runs: every combination's ranking metrics, by one of two paths that give
the same numbers for what they both support.

- the fast path (`velocitas.engine.sweep_kernel`): one-leg `sma_cross` with next-open fills and
  no stops or risk rules runs every combination in one parallel numba pass, keeping no curves;
- the general path: `run_backtest` per combination in a process pool, for any spec.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.engine.runner import kernel_config, market_spec, run_backtest, select_bars
from velocitas.engine.spec import BacktestSpec, StrategyRef
from velocitas.engine.sweep_kernel import (
    S_COUNT,
    S_DOWNSIDE,
    S_FINAL_EQUITY,
    S_GROSS_LOSS,
    S_GROSS_WIN,
    S_MAX_DRAWDOWN,
    S_MEAN,
    S_STD,
    S_TRADES,
    sma_sweep,
)
from velocitas.metrics import calmar_ratio, elapsed_cagr
from velocitas.strategies import registry

__all__ = ["Progress", "fast_path_supported", "fast_runs", "general_runs"]

Progress = Callable[[int, int], None]
_FAST_PARAMS = {"fast", "slow", "allow_short"}


def fast_path_supported(spec: BacktestSpec, combinations: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the parallel numba path covers this sweep (same results as `run_backtest`)."""
    stops, risk = spec.stops, spec.risk
    return (
        len(spec.legs) == 1
        and spec.legs[0].strategy.name == "sma_cross"
        and spec.fill == "next_open"
        and stops.stop_loss is None
        and stops.take_profit is None
        and stops.trailing_stop is None
        and all(v is None for v in risk.model_dump().values())
        and all(set(c) <= _FAST_PARAMS for c in combinations)
        and spec.risk_free_rate == 0  # the kernel's downside deviation is about zero
    )


def _with_params(spec: BacktestSpec, params: Mapping[str, Any]) -> BacktestSpec:
    leg = spec.legs[0]
    strategy = StrategyRef(name=leg.strategy.name, params={**leg.strategy.params, **params})
    legs = [leg.model_copy(update={"strategy": strategy}), *spec.legs[1:]]
    return spec.model_copy(update={"legs": legs})


def _number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def fast_runs(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    combinations: Sequence[Mapping[str, Any]],
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """The ranking metrics of each combination, in order, by the fast path (check
    `fast_path_supported` first)."""
    (leg_bars,) = select_bars(spec, bars)
    spec, calendar = market_spec(spec, [leg_bars])  # the calendar and lot run_backtest uses
    base = dict(spec.legs[0].strategy.params)
    merged = [{**base, **c} for c in combinations]
    for index, params in enumerate(merged):  # validated as the general path would
        registry.build("sma_cross", params, field=f"combinations[{index}]")
    defaults = registry.get("sma_cross").Params()
    fast = np.array([p.get("fast", defaults.fast) for p in merged], dtype=np.int64)  # type: ignore[attr-defined]
    slow = np.array([p.get("slow", defaults.slow) for p in merged], dtype=np.int64)  # type: ignore[attr-defined]
    shorts = np.array([bool(p.get("allow_short", False)) for p in merged], dtype=np.bool_)
    cfg = kernel_config(spec)
    open_ = np.ascontiguousarray(leg_bars.open, dtype=np.float64)
    close = np.ascontiguousarray(leg_bars.close, dtype=np.float64)
    scale, allow_short = float(spec.legs[0].weight), bool(spec.allow_short)
    stats = np.empty((len(merged), 9))
    # Chunks only for progress: each is still spread over every thread.
    chunk = max(len(merged) // 10, 64)
    for lo in range(0, len(merged), chunk):
        hi = min(lo + chunk, len(merged))
        stats[lo:hi] = sma_sweep(
            open_, close, fast[lo:hi], slow[lo:hi], shorts[lo:hi], scale, cfg, allow_short
        )
        if progress:
            progress(hi, len(merged))
    per_year = calendar.periods_per_year(spec.timeframe)
    initial = float(spec.initial_cash)
    out = []
    for row in stats:
        final = float(row[S_FINAL_EQUITY])
        deepest = float(row[S_MAX_DRAWDOWN])
        growth = elapsed_cagr(initial, final, leg_bars.opened_at, spec.timeframe, calendar)
        mean, std, down = row[S_MEAN], row[S_STD], row[S_DOWNSIDE]
        win, loss = float(row[S_GROSS_WIN]), float(row[S_GROSS_LOSS])
        out.append(
            {
                "sharpe": _number(mean / std * math.sqrt(per_year)) if std > 0.0 else None,
                "sortino": _number(mean / down * math.sqrt(per_year)) if down > 0.0 else None,
                "calmar": calmar_ratio(growth, deepest),
                "total_return": final / initial - 1.0,
                "profit_factor": win / loss if loss > 0.0 else None,
                "max_drawdown": deepest,
                "trades": int(row[S_TRADES]),
                "final_equity": _money(final),
                "return_periods": int(row[S_COUNT]),
            }
        )
    return out


def _money(value: float) -> str:
    return str(Decimal(repr(value)).quantize(Decimal("0.00000001")))


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

"""Walk-forward analysis: optimise on an in-sample window, trade the winner out of sample, roll.

Folds (`plan_folds`) cut [start, end) into in-sample (IS) windows each followed by an
out-of-sample (OOS) window of `out_of_sample` length; the next fold starts one OOS length
later. Rolling folds keep the IS length; anchored folds keep the IS start at `start` (the IS
grows). OOS windows tile the range after the first IS window without overlap and never
overlap their own IS window; the last one may be shorter (clipped at `end`).

Each fold runs `core.engine.sweep.run_sweep` on its IS bars, then `run_signals` on its OOS
bars with the best parameters. The strategy's signals are computed over IS + OOS bars and
cut to the OOS part, so indicators are warm when the OOS window opens (signals are causal:
no OOS bar sees a later one). Each OOS segment starts with the previous segment's final
equity (exact Decimal), so the stitched curve is one account; a fold whose IS sweep ranks no
run (a constraint excluded every one) stays flat in cash over its OOS bars.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from core.domain.bars import BarArrays
from core.engine.runner import run_signals, select_bars, strategy_signals
from core.engine.spec import BacktestSpec, StrategyRef
from core.engine.sweep import grid_combinations, random_combinations, run_sweep
from core.errors import InvalidRequest
from core.metrics import compute_metrics

__all__ = ["Fold", "WalkForwardResult", "parse_duration", "plan_folds", "run_walk_forward"]

Progress = Callable[[int, int], None]
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, *, field: str = "window") -> timedelta:
    """`"90m"`, `"12h"`, `"30d"`, `"2w"` → timedelta; `InvalidRequest(field)` otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise InvalidRequest(
            f"{text!r}: write a positive length like 90m, 12h, 30d or 2w", field=field
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Fold:
    """One fold's windows, each [start, end)."""

    index: int
    in_sample_start: datetime
    in_sample_end: datetime
    out_of_sample_start: datetime
    out_of_sample_end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "in_sample": [self.in_sample_start.isoformat(), self.in_sample_end.isoformat()],
            "out_of_sample": [
                self.out_of_sample_start.isoformat(),
                self.out_of_sample_end.isoformat(),
            ],
        }


def plan_folds(
    start: datetime,
    end: datetime,
    in_sample: timedelta,
    out_of_sample: timedelta,
    *,
    anchored: bool = False,
) -> list[Fold]:
    """The folds over [start, end); `InvalidRequest` when not even one fits."""
    if in_sample <= timedelta(0):
        raise InvalidRequest("the in-sample window must be positive", field="in_sample")
    if out_of_sample <= timedelta(0):
        raise InvalidRequest("the out-of-sample window must be positive", field="out_of_sample")
    folds = []
    k = 0
    while True:
        oos_start = start + in_sample + k * out_of_sample
        if oos_start >= end:
            break
        is_start = start if anchored else oos_start - in_sample
        folds.append(Fold(k, is_start, oos_start, oos_start, min(oos_start + out_of_sample, end)))
        k += 1
    if not folds:
        raise InvalidRequest(
            f"the range [{start}, {end}) is not longer than the in-sample window ({in_sample})",
            field="in_sample",
        )
    return folds


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-fold choices and results, the stitched OOS equity curve and its metrics."""

    folds: list[dict[str, Any]]
    opened_at: np.ndarray
    equity: np.ndarray
    metrics: dict[str, Any]
    initial_cash: Decimal
    final_equity: Decimal
    objective: str
    anchored: bool

    def to_dict(self, *, include_equity: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "objective": self.objective,
            "anchored": self.anchored,
            "initial_cash": str(self.initial_cash),
            "final_equity": str(self.final_equity),
            "metrics": self.metrics,
            "folds": self.folds,
        }
        if include_equity:
            out["equity"] = {
                "opened_at_ns": self.opened_at.tolist(),
                "equity": self.equity.tolist(),
            }
        return out


def _window(spec: BacktestSpec, start: datetime, end: datetime, **more: Any) -> BacktestSpec:
    return spec.model_copy(update={"start": start, "end": end, **more})


def run_walk_forward(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    space: Mapping[str, Sequence[Any]],
    *,
    in_sample: timedelta,
    out_of_sample: timedelta,
    anchored: bool = False,
    objective: str = "sharpe",
    min_trades: int = 0,
    max_drawdown: float | None = None,
    random_count: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Walk-forward of leg 0's strategy over `space` (parameter name → values) on one leg.

    `progress(done, total)` counts finished folds. Same inputs give the same result.
    """
    if len(spec.legs) != 1:
        raise InvalidRequest("walk-forward runs one leg", field="legs")
    leg = spec.legs[0]
    name, fixed = leg.strategy.name, dict(leg.strategy.params)
    if random_count is None:
        combos, skipped = grid_combinations(name, space, fixed=fixed)
    else:
        combos, skipped = random_combinations(name, space, random_count, seed, fixed=fixed)
    if not combos:
        raise InvalidRequest("the grid has no valid parameter combination", field="grid")
    folds = plan_folds(spec.start, spec.end, in_sample, out_of_sample, anchored=anchored)
    (series,) = select_bars(spec, bars)
    cash = spec.initial_cash
    times: list[np.ndarray] = []
    curves: list[np.ndarray] = []
    closes: list[np.ndarray] = []
    pnls: list[float] = []
    returns: list[float] = []
    fees = Decimal(0)
    exposure = 0
    reports = []
    for fold in folds:
        oos_bars = series.between(fold.out_of_sample_start, fold.out_of_sample_end)
        report: dict[str, Any] = {**fold.to_dict(), "params": None, "in_sample_objective": None}
        if len(oos_bars) == 0:
            reports.append({**report, "skipped": "no bars out of sample"})
            continue
        is_spec = _window(spec, fold.in_sample_start, fold.in_sample_end)
        try:
            sweep = run_sweep(
                is_spec, {leg.symbol: series}, combos, objective=objective,
                min_trades=min_trades, max_drawdown=max_drawdown, workers=workers,
                skipped=skipped,
            )  # fmt: skip
            best = sweep.best
        except InvalidRequest as exc:  # e.g. no bars in sample
            best, report["in_sample_error"] = None, str(exc)
        oos_spec = _window(spec, fold.out_of_sample_start, fold.out_of_sample_end)
        oos_spec = oos_spec.model_copy(update={"initial_cash": cash})
        if best is None:
            segment = np.full(len(oos_bars), float(cash))
            report["out_of_sample_result"] = {"trades": 0, "final_equity": str(cash)}
        else:
            params = {**fixed, **best["params"]}
            chosen = leg.model_copy(update={"strategy": StrategyRef(name=name, params=params)})
            oos_spec = oos_spec.model_copy(update={"legs": [chosen]})
            history = series.between(fold.in_sample_start, fold.out_of_sample_end)
            sides = strategy_signals(chosen, history)[len(history) - len(oos_bars) :]
            result = run_signals(oos_spec, [oos_bars], [sides])
            cash = result.final_equity
            segment = result.equity.equity
            pnls += [float(t.net_pnl) for t in result.trades]
            returns += [t.return_fraction for t in result.trades]
            fees += sum((f.fee for f in result.fills), start=Decimal(0))
            exposure += round(float(result.metrics["exposure"] or 0.0) * len(oos_bars))
            report["params"] = best["params"]
            report["in_sample_objective"] = best[objective]
            report["out_of_sample_result"] = {
                "trades": len(result.trades),
                "total_return": result.metrics["total_return"],
                "sharpe": result.metrics["sharpe"],
                "max_drawdown": result.metrics["max_drawdown"],
                "final_equity": str(result.final_equity),
            }
        times.append(oos_bars.opened_at)
        curves.append(np.asarray(segment, dtype=np.float64))
        closes.append(oos_bars.close)
        reports.append(report)
        if progress:
            progress(fold.index + 1, len(folds))
        if cash <= 0:
            break  # a blown account cannot carry on
    if not curves:
        raise InvalidRequest("no fold has bars out of sample", field="out_of_sample")
    opened_at, equity = np.concatenate(times), np.concatenate(curves)
    metrics = compute_metrics(
        equity,
        opened_at,
        np.asarray(pnls, dtype=np.float64),
        np.asarray(returns, dtype=np.float64),
        timeframe=spec.timeframe,
        fees_paid=fees,
        exposure_bars=exposure,
        benchmark_close=np.concatenate(closes),
        initial_equity=spec.initial_cash,
    )
    return WalkForwardResult(
        reports, opened_at, equity, dict(metrics), spec.initial_cash, cash, objective, anchored
    )

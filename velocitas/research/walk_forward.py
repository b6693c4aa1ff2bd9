"""Walk-forward analysis: optimise on an in-sample window, trade the winner out of sample, roll.

Folds (`plan_folds`) cut [start, end) into in-sample (IS) windows each followed by an
out-of-sample (OOS) window of `out_of_sample` length; the next fold starts one OOS length
later. Rolling folds keep the IS length; anchored folds keep the IS start at `start` (the IS
grows). OOS windows tile the range after the first IS window without overlap and never
overlap their own IS window; the last one may be shorter (clipped at `end`). Windows written
in months or years (`velocitas.timeparse.Duration`) step by calendar months, clamped to month
ends and counted from `start` (fold k's OOS opens IS + k OOS months after it: no drift).
`check_windows` refuses windows shorter than `MIN_WINDOW_BARS` bars and more folds than the
limit (`Settings.max_walk_forward_folds`), counting them without building them.

Each fold runs `velocitas.research.sweeps.run_sweep` on its IS bars, then `run_signals` on its OOS
bars with the best parameters. The strategy's signals are computed over IS + OOS bars and
cut to the OOS part, so indicators are warm when the OOS window opens (signals are causal:
no OOS bar sees a later one). Each OOS segment starts with the previous segment's final
equity (exact Decimal), so the stitched curve is one account; a fold whose IS sweep ranks no
run (a constraint excluded every one) stays flat in cash over its OOS bars.

The job platform runs `optimise_fold` per fold as child jobs and `stitch_folds` once every fold
has finished (see `velocitas.research.walk_forward_spec`); the result equals `run_walk_forward`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from velocitas.calendars import resolve_calendar
from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.runner import (
    run_signals,
    select_bars,
    strategy_decisions,
    strategy_signals,
)
from velocitas.engine.spec import BacktestSpec, StrategyRef
from velocitas.errors import InvalidRequest
from velocitas.metrics import compute_metrics
from velocitas.research.grid import Space, grid_combinations, random_combinations
from velocitas.research.objectives import Direction
from velocitas.research.sweeps import run_sweep
from velocitas.settings import get_settings
from velocitas.timeparse import Duration, add_months

__all__ = [
    "MIN_WINDOW_BARS",
    "Fold",
    "FoldChoice",
    "WalkForwardPlan",
    "WalkForwardResult",
    "check_windows",
    "count_folds",
    "optimise_fold",
    "plan_folds",
    "plan_walk_forward",
    "run_walk_forward",
    "stitch_folds",
]

Progress = Callable[[int, int], None]

MIN_WINDOW_BARS = 3
"""The fewest bars of the run's timeframe an in-sample or out-of-sample window may span."""


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
    for k in range(count_folds(start, end, in_sample, out_of_sample)):
        oos_start = _oos_start(start, in_sample, out_of_sample, k)
        is_start = start if anchored else _before(oos_start, in_sample)
        oos_end = min(_oos_start(start, in_sample, out_of_sample, k + 1), end)
        folds.append(Fold(k, is_start, oos_start, oos_start, oos_end))
    if not folds:
        raise InvalidRequest(
            f"the range [{start}, {end}) is not longer than the in-sample window ({in_sample})",
            field="in_sample",
        )
    return folds


def count_folds(
    start: datetime, end: datetime, in_sample: timedelta, out_of_sample: timedelta
) -> int:
    """How many folds `plan_folds` cuts [start, end) into, without building them."""
    first = _oos_start(start, in_sample, out_of_sample, 0)
    if first >= end:
        return 0
    if not isinstance(out_of_sample, Duration) or not out_of_sample.months:
        return -((first - end) // out_of_sample)  # ceil((end - first) / out_of_sample)
    # Calendar months: estimate from the month difference, then step to the exact count.
    months = (end.year - first.year) * 12 + end.month - first.month
    k = max(months // out_of_sample.months, 0)
    while _oos_start(start, in_sample, out_of_sample, k) < end:
        k += 1
    while k > 0 and _oos_start(start, in_sample, out_of_sample, k - 1) >= end:
        k -= 1
    return k


def check_windows(
    start: datetime,
    end: datetime,
    in_sample: timedelta,
    out_of_sample: timedelta,
    *,
    timeframe: str,
    max_folds: int | None = None,
) -> int:
    """The fold count, after refusing (`InvalidRequest` naming the window) a window shorter
    than `MIN_WINDOW_BARS` bars of `timeframe` and more folds than `max_folds` (default:
    `Settings.max_walk_forward_folds`)."""
    frame = Timeframe.parse(timeframe)
    shortest = MIN_WINDOW_BARS * frame.nominal_seconds
    for field, window in (("in_sample", in_sample), ("out_of_sample", out_of_sample)):
        if window.total_seconds() < shortest:
            raise InvalidRequest(
                f"{field} {_text(window)} is {_words(window)}, shorter than "
                f"{MIN_WINDOW_BARS} bars of {frame.value}",
                field=field,
            )
    limit = get_settings().max_walk_forward_folds if max_folds is None else max_folds
    folds = count_folds(start, end, in_sample, out_of_sample)
    if folds > limit:
        raise InvalidRequest(
            f"out_of_sample {_text(out_of_sample)} cuts [{start.isoformat()}, "
            f"{end.isoformat()}) into {folds} folds; at most {limit} "
            "(MAX_WALK_FORWARD_FOLDS): lengthen the windows or shorten the range",
            field="out_of_sample",
        )
    return folds


def _oos_start(start: datetime, in_sample: timedelta, out_of_sample: timedelta, k: int) -> datetime:
    # Fold k's out-of-sample start: start + in_sample + k * out_of_sample, in calendar months
    # from `start` when both are months (so a clamped month end does not shift later folds).
    months = [w.months if isinstance(w, Duration) else 0 for w in (in_sample, out_of_sample)]
    if all(months):
        return add_months(start, months[0] + k * months[1])
    return _after(_after(start, in_sample), out_of_sample, k)


def _after(moment: datetime, length: timedelta, times: int = 1) -> datetime:
    if isinstance(length, Duration):
        return length.after(moment, times)
    return moment + times * length


def _before(moment: datetime, length: timedelta) -> datetime:
    return length.before(moment) if isinstance(length, Duration) else moment - length


def _text(window: timedelta) -> str:
    return window.text if isinstance(window, Duration) else str(window)


def _words(window: timedelta) -> str:
    return window.words if isinstance(window, Duration) else str(window)


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


@dataclass(frozen=True)
class WalkForwardPlan:
    """What every fold shares: the strategy, its fixed parameters, the parameter combinations
    each in-sample sweep tries, and the folds themselves."""

    strategy: str
    fixed: dict[str, Any]
    combos: list[dict[str, Any]]
    skipped: int  # combinations of the grid that break a rule between parameters
    folds: list[Fold]


@dataclass(frozen=True)
class FoldChoice:
    """What one fold's in-sample sweep chose: the best parameters and their objective value;
    none when no run qualified (`error` says why the sweep could not run, `skipped` why the
    fold has nothing to trade). JSON-friendly, so a fold run as its own job can store it."""

    params: dict[str, Any] | None = None
    in_sample_objective: float | None = None
    in_sample_error: str | None = None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "in_sample_objective": self.in_sample_objective,
            "in_sample_error": self.in_sample_error,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FoldChoice:
        return cls(
            params=data.get("params"),
            in_sample_objective=data.get("in_sample_objective"),
            in_sample_error=data.get("in_sample_error"),
            skipped=data.get("skipped"),
        )


def plan_walk_forward(
    spec: BacktestSpec,
    space: Space,
    *,
    in_sample: timedelta,
    out_of_sample: timedelta,
    anchored: bool = False,
    random_count: int | None = None,
    seed: int = 0,
    max_folds: int | None = None,
) -> WalkForwardPlan:
    """The folds and the combinations of leg 0's strategy over `space` (name -> values), after
    `check_windows` (`max_folds` default: `Settings.max_walk_forward_folds`)."""
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
    check_windows(
        spec.start, spec.end, in_sample, out_of_sample, timeframe=spec.timeframe,
        max_folds=max_folds,
    )  # fmt: skip
    folds = plan_folds(spec.start, spec.end, in_sample, out_of_sample, anchored=anchored)
    return WalkForwardPlan(name, fixed, combos, skipped, folds)


def optimise_fold(
    spec: BacktestSpec,
    series: BarArrays,
    plan: WalkForwardPlan,
    fold: Fold,
    *,
    objective: str = "sharpe",
    direction: Direction = "maximize",
    min_trades: int = 0,
    max_drawdown: float | None = None,
    workers: int | None = None,
) -> FoldChoice:
    """Sweep the plan's combinations on `fold`'s in-sample bars and pick the best.

    `series` must hold the fold's bars from its in-sample start to its out-of-sample end (it
    may hold more). Folds are independent, so each can run on its own worker.
    """
    if len(series.between(fold.out_of_sample_start, fold.out_of_sample_end)) == 0:
        return FoldChoice(skipped="no bars out of sample")
    is_spec = _window(spec, fold.in_sample_start, fold.in_sample_end)
    try:
        sweep = run_sweep(
            is_spec, {spec.legs[0].symbol: series}, plan.combos, objective=objective,
            direction=direction, min_trades=min_trades, max_drawdown=max_drawdown,
            workers=workers, skipped=plan.skipped,
        )  # fmt: skip
    except InvalidRequest as exc:  # e.g. no bars in sample
        return FoldChoice(in_sample_error=str(exc))
    best = sweep.best
    if best is None:
        return FoldChoice()
    return FoldChoice(params=best["params"], in_sample_objective=best[objective])


def stitch_folds(
    spec: BacktestSpec,
    series: BarArrays,
    plan: WalkForwardPlan,
    choices: Sequence[FoldChoice],
    *,
    objective: str = "sharpe",
    anchored: bool = False,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Trade each fold's choice out of sample, in order, as one account; one curve, one report.

    Sequential by nature: each segment starts from the previous segment's final equity.
    """
    if len(choices) != len(plan.folds):
        raise ValueError(f"{len(plan.folds)} folds but {len(choices)} choices")
    leg = spec.legs[0]
    cash = spec.initial_cash
    times: list[np.ndarray] = []
    curves: list[np.ndarray] = []
    closes: list[np.ndarray] = []
    pnls: list[float] = []
    returns: list[float] = []
    fees = Decimal(0)
    exposure = 0
    reports = []
    for fold, choice in zip(plan.folds, choices, strict=True):
        oos_bars = series.between(fold.out_of_sample_start, fold.out_of_sample_end)
        report: dict[str, Any] = {
            **fold.to_dict(),
            "params": choice.params,
            "in_sample_objective": choice.in_sample_objective,
        }
        if choice.skipped is not None or len(oos_bars) == 0:
            reports.append({**report, "skipped": choice.skipped or "no bars out of sample"})
            continue
        if choice.in_sample_error is not None:
            report["in_sample_error"] = choice.in_sample_error
        oos_spec = _window(spec, fold.out_of_sample_start, fold.out_of_sample_end)
        oos_spec = oos_spec.model_copy(update={"initial_cash": cash})
        if choice.params is None:
            segment = np.full(len(oos_bars), float(cash))
            report["out_of_sample_result"] = {"trades": 0, "final_equity": str(cash)}
        else:
            params = {**plan.fixed, **choice.params}
            chosen = leg.model_copy(
                update={"strategy": StrategyRef(name=plan.strategy, params=params)}
            )
            oos_spec = oos_spec.model_copy(update={"legs": [chosen]})
            history = series.between(fold.in_sample_start, fold.out_of_sample_end)
            first = len(history) - len(oos_bars)
            if oos_spec.risk.min_confidence is None:
                sides, confidence = strategy_signals(chosen, history)[first:], None
            else:  # the confidence is read only against a minimum
                all_sides, sure = strategy_decisions(chosen, history)
                sides, confidence = all_sides[first:], None if sure is None else sure[first:]
            result = run_signals(oos_spec, [oos_bars], [sides], [confidence])
            cash = result.final_equity
            segment = result.equity.equity
            pnls += [float(t.net_pnl) for t in result.trades]
            returns += [t.return_fraction for t in result.trades]
            fees += sum((f.fee for f in result.fills), start=Decimal(0))
            exposure += round(float(result.metrics["exposure"] or 0.0) * len(oos_bars))
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
            progress(fold.index + 1, len(plan.folds))
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
        calendar=resolve_calendar(spec.calendar, opened_at, spec.timeframe),
        fees_paid=fees,
        exposure_bars=exposure,
        benchmark_close=np.concatenate(closes),
        initial_equity=spec.initial_cash,
        risk_free_rate=float(spec.risk_free_rate),
    )
    return WalkForwardResult(
        reports, opened_at, equity, dict(metrics), spec.initial_cash, cash, objective, anchored
    )


def run_walk_forward(
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    space: Space,
    *,
    in_sample: timedelta,
    out_of_sample: timedelta,
    anchored: bool = False,
    objective: str = "sharpe",
    direction: Direction = "maximize",
    min_trades: int = 0,
    max_drawdown: float | None = None,
    random_count: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Walk-forward of leg 0's strategy over `space` (parameter name -> values) on one leg, in
    this process: every fold optimised in turn, then stitched.

    `progress(done, total)` counts optimised folds. Same inputs give the same result. A job
    platform can instead run `optimise_fold` per fold on separate workers and `stitch_folds`
    once all are done: the result is the same.
    """
    plan = plan_walk_forward(
        spec, space, in_sample=in_sample, out_of_sample=out_of_sample, anchored=anchored,
        random_count=random_count, seed=seed,
    )  # fmt: skip
    (series,) = select_bars(spec, bars)
    choices = []
    for fold in plan.folds:
        choice = optimise_fold(
            spec, series, plan, fold, objective=objective, direction=direction,
            min_trades=min_trades, max_drawdown=max_drawdown, workers=workers,
        )  # fmt: skip
        choices.append(choice)
        if progress:
            progress(fold.index + 1, len(plan.folds))
    return stitch_folds(spec, series, plan, choices, objective=objective, anchored=anchored)

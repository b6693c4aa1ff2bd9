"""Tournaments: every strategy on every market, walked forward, ranked out of sample, with the
odds that the ranking is luck. The request and its plan are `velocitas.research.tournament_spec`.

Each entry (strategy, symbol, timeframe) runs on its own (`run_entry`, one child job on the
platform): a walk-forward over the plan's folds (`optimise_fold` in sample, the folds' choices
stitched out of sample as one account, `stitch_folds`), then every trial (parameter set) over
the whole range once, summarised per CSCV block of time. `rank` then needs no bars: it ranks
the entries by their stitched out-of-sample objective, deflates each entry's out-of-sample
Sharpe ratio for the tournament's number of trials (`deflated_sharpe_ratio`; the trials'
Sharpe variance is measured over the out-of-sample span), computes the probability of backtest
overfitting of the whole tournament by CSCV over every trial, and writes the recommendations
(`velocitas.research.recommendations`), and splits the out-of-sample evidence by market regime
(`velocitas.research.regime_evidence`). `execute` does all of it in one process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays, to_epoch_ns
from velocitas.engine.runner import (
    run_signals,
    select_bars,
    strategy_decisions,
    strategy_signals,
)
from velocitas.engine.spec import StrategyRef
from velocitas.errors import InvalidRequest
from velocitas.metrics import period_returns
from velocitas.research.overfitting import (
    BlockStats,
    ReturnMoments,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    return_moments,
)
from velocitas.research.recommendations import recommend
from velocitas.research.regime_evidence import rank_by_regime, regime_sums
from velocitas.research.regimes import regime_labels
from velocitas.research.tournament_spec import (
    TournamentPlan,
    TournamentSpec,
    entry_spec,
    trials_of,
    validate,
)
from velocitas.research.walk_forward import WalkForwardPlan, optimise_fold, stitch_folds

__all__ = ["OOS_METRICS", "execute", "rank", "run_entry"]

OOS_METRICS = ("sharpe", "sortino", "calmar", "total_return", "profit_factor", "max_drawdown",
               "trade_count")  # fmt: skip
"""The stitched out-of-sample metrics each entry reports."""


def _block_edges(spec: TournamentSpec) -> np.ndarray:
    start, end = to_epoch_ns(spec.start), to_epoch_ns(spec.end)
    return np.linspace(start, end, spec.cscv_blocks + 1)[1:-1]


def _blocks(
    returns: np.ndarray, times: np.ndarray, edges: np.ndarray, blocks: int
) -> dict[str, list[float]]:
    ok = np.isfinite(returns)
    where = np.searchsorted(edges, times[ok], side="right")
    r = returns[ok]
    return {
        "count": np.bincount(where, minlength=blocks).astype(float).tolist(),
        "total": np.bincount(where, weights=r, minlength=blocks).tolist(),
        "squares": np.bincount(where, weights=r * r, minlength=blocks).tolist(),
    }


def run_entry(
    spec: TournamentSpec, the_plan: TournamentPlan, index: int, series: BarArrays
) -> dict[str, Any]:
    """Entry `index`'s walk-forward and trials on `series` (its symbol's bars of its timeframe
    over the tournament's range; more is cut off). JSON-safe; `InvalidRequest` when the range
    holds none of its bars."""
    entry = the_plan.entries[index]
    contender = spec.strategies[entry.strategy]
    base = entry_spec(spec, entry)
    (bars,) = select_bars(base, {entry.symbol: series})
    combos = trials_of(contender, field=f"strategies[{entry.strategy}]")
    walk = WalkForwardPlan(contender.name, dict(contender.params), combos, 0, the_plan.folds)
    choices = [
        optimise_fold(
            base,
            bars,
            walk,
            fold,
            objective=spec.objective,
            direction=spec.direction,
            min_trades=spec.min_trades,
            max_drawdown=spec.max_drawdown,
            workers=1,
        )
        for fold in the_plan.folds
    ]
    stitched = stitch_folds(
        base, bars, walk, choices, objective=spec.objective, anchored=spec.anchored
    )
    oos_returns = period_returns(stitched.equity, base.initial_cash)
    moments = return_moments(oos_returns)
    in_sample = [c.in_sample_objective for c in choices if c.in_sample_objective is not None]
    edges = _block_edges(spec)
    oos_start = to_epoch_ns(the_plan.folds[0].out_of_sample_start)
    trials = []
    for params in combos:
        leg = base.legs[0].model_copy(
            update={"strategy": StrategyRef(name=contender.name, params=params)}
        )
        if base.risk.min_confidence is None:
            sides, confidence = strategy_signals(leg, bars), None
        else:  # the confidence is read only against a minimum
            sides, confidence = strategy_decisions(leg, bars)
        run = run_signals(base.model_copy(update={"legs": [leg]}), [bars], [sides], [confidence])
        returns = period_returns(run.equity.equity, base.initial_cash)
        times = run.equity.opened_at
        trials.append(
            {
                "params": params,
                "out_of_sample_sharpe": return_moments(returns[times >= oos_start]).sharpe,
                "blocks": _blocks(returns, times, edges, spec.cscv_blocks),
            }
        )
    metrics = stitched.metrics
    return _finite_tree(
        {
            "entry": index,
            "strategy": contender.name,
            "params": dict(contender.params),
            "symbol": entry.symbol,
            "timeframe": entry.timeframe,
            "out_of_sample": {
                **{key: metrics.get(key) for key in OOS_METRICS},
                "bars": len(stitched.equity),
                "final_equity": str(stitched.final_equity),
            },
            "in_sample_objective": sum(in_sample) / len(in_sample) if in_sample else None,
            "folds": [_fold_row(fold) for fold in stitched.folds],
            "moments": {
                "sharpe": moments.sharpe,
                "skew": moments.skew,
                "kurtosis": moments.kurtosis,
                "observations": moments.observations,
            },
            "trials": trials,
            "regimes": _regimes_out_of_sample(bars, stitched.opened_at, oos_returns),
        }
    )


def _regimes_out_of_sample(
    bars: BarArrays, opened_at: np.ndarray, returns: np.ndarray
) -> dict[str, list[float]]:
    # Each OOS bar's return under the regime known at the close before it (point in time).
    labels, _ = regime_labels(bars.high, bars.low, bars.close)
    at = np.searchsorted(bars.opened_at, opened_at) - 1
    known = np.where(at >= 0, labels[np.maximum(at, 0)], -1)
    return regime_sums(returns, known)


def _fold_row(fold: Mapping[str, Any]) -> dict[str, Any]:
    outcome = fold.get("out_of_sample_result") or {}
    return {
        "index": fold["index"],
        "params": fold.get("params"),
        "in_sample_objective": fold.get("in_sample_objective"),
        "out_of_sample_sharpe": outcome.get("sharpe"),
        "out_of_sample_return": outcome.get("total_return"),
        "trades": outcome.get("trades"),
        "skipped": fold.get("skipped"),
    }


def rank(
    spec: TournamentSpec, the_plan: TournamentPlan, results: Sequence[dict[str, Any] | str]
) -> dict[str, Any]:
    """The tournament's report from every entry's `run_entry` result (or the error that failed
    it, as text), in plan order: entries ranked by out-of-sample objective with their
    degradation and deflated Sharpe ratio, the PBO, and the recommendations."""
    done = [r for r in results if isinstance(r, dict)]
    failed = [
        {**_label(spec, the_plan, i), "error": r}
        for i, r in enumerate(results)
        if isinstance(r, str)
    ]
    trials = [trial for r in done for trial in r["trials"]]
    sharpes = [t["out_of_sample_sharpe"] or 0.0 for t in trials]
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    rows = [_row(spec, r, len(trials), variance if spec.dsr_variance == "trials" else None)
            for r in done]  # fmt: skip
    scoring = spec.scoring
    ordered = scoring.order(rows, lambda row: row["out_of_sample"].get(spec.objective))
    ranked = [{"rank": i + 1, **row} for i, row in enumerate(ordered)]
    overfitting = _overfitting(spec, trials)
    report = {
        "objective": spec.objective,
        "direction": spec.direction,
        "folds": spec.folds,
        "anchored": spec.anchored,
        "entries": ranked,
        "failed": failed,
        "trials": len(trials),
        "deflation": {
            "trials": len(trials),
            "variance": spec.dsr_variance,
            "trials_sharpe_variance": variance,
            "expected_max_sharpe": ranked[0]["deflated_sharpe"]["expected_max"] if ranked else None,
            "threshold": spec.dsr_threshold,
        },
        "overfitting": overfitting,
        "regimes": rank_by_regime(done, trials=len(trials), threshold=spec.dsr_threshold),
    }
    report["recommendations"] = recommend(report)
    return _finite_tree(report)


def _label(spec: TournamentSpec, the_plan: TournamentPlan, index: int) -> dict[str, Any]:
    entry = the_plan.entries[index]
    contender = spec.strategies[entry.strategy]
    return {
        "entry": index,
        "strategy": contender.name,
        "params": dict(contender.params),
        "symbol": entry.symbol,
        "timeframe": entry.timeframe,
    }


def _row(
    spec: TournamentSpec, result: dict[str, Any], trials: int, variance: float | None
) -> dict[str, Any]:
    # variance None: the null's, the Sharpe estimator's variance 1/(T - 1) at a true SR of 0.
    m = result["moments"]
    moments = ReturnMoments(
        m["sharpe"] or 0.0, m["skew"] or 0.0, m["kurtosis"] or 3.0, m["observations"]
    )
    if variance is None:
        variance = 1.0 / (moments.observations - 1) if moments.observations > 1 else 0.0
    dsr = deflated_sharpe_ratio(moments, trials=trials, trials_variance=variance)
    oos = result["out_of_sample"].get(spec.objective)
    in_sample = result["in_sample_objective"]
    degradation = None if oos is None or in_sample is None else oos - in_sample
    ratio = oos / in_sample if oos is not None and in_sample else None
    return {
        **{k: result[k] for k in ("entry", "strategy", "params", "symbol", "timeframe")},
        "out_of_sample": result["out_of_sample"],
        "in_sample_objective": in_sample,
        "degradation": {"difference": degradation, "ratio": ratio},
        "deflated_sharpe": {
            "value": dsr.value,
            "passes": dsr.passes(spec.dsr_threshold),
            "sharpe_per_bar": dsr.sharpe,
            "expected_max": dsr.expected_max,
            "skew": dsr.skew,
            "kurtosis": dsr.kurtosis,
            "observations": dsr.observations,
        },
        "trials": len(result["trials"]),
        "folds": result["folds"],
    }


def _overfitting(spec: TournamentSpec, trials: list[dict[str, Any]]) -> dict[str, Any]:
    if len(trials) < 2:
        return {"pbo": None, "reason": "CSCV needs at least 2 trials", "blocks": spec.cscv_blocks}
    stats = BlockStats(
        *(np.array([t["blocks"][key] for t in trials]).T for key in ("count", "total", "squares"))
    )
    verdict = probability_of_backtest_overfitting(stats)
    return {
        "pbo": verdict.pbo,
        "splits": verdict.splits,
        "blocks": verdict.blocks,
        "trials": verdict.trials,
        "median_logit": verdict.median_logit,
    }


def execute(
    spec: TournamentSpec,
    bars: Mapping[tuple[str, str], BarArrays],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The whole tournament in this process, one entry after another, on `bars` keyed by
    (symbol, timeframe). An entry that cannot run is reported as failed, not raised."""
    the_plan = validate(spec)
    results: list[dict[str, Any] | str] = []
    for entry in the_plan.entries:
        series = bars.get((entry.symbol, entry.timeframe))
        if series is None:
            results.append(f"no {entry.timeframe} bars were given for {entry.symbol!r}")
        else:
            try:
                results.append(run_entry(spec, the_plan, entry.index, series))
            except InvalidRequest as exc:
                results.append(str(exc))
        if progress:
            progress(entry.index + 1, len(the_plan.entries))
    return rank(spec, the_plan, results)


def _finite_tree(value: Any) -> Any:
    # JSONB has no NaN or infinity: those become null.
    if isinstance(value, dict):
        return {k: _finite_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_tree(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating | np.integer):
        return _finite_tree(value.item())
    return value

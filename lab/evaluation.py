"""Back-testing a trained policy through the engine, and comparing it with rule strategies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.agent.policy import PolicyModel, policy_decisions, policy_signals
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestResult, BacktestSpec, LegSpec, StrategyRef, run_backtest
from velocitas.engine.runner import run_signals
from velocitas.errors import InvalidRequest
from velocitas.features import build_features

__all__ = ["Comparison", "backtest_policy", "compare_with_rules"]

EXCLUDED_RULES = frozenset({"buy_and_hold", "ensemble", "policy"})
"""Not candidates for "best rule strategy": the benchmark itself, and composites."""


def _one_leg(execution: BacktestSpec, symbol: str, strategy: StrategyRef) -> BacktestSpec:
    return execution.model_copy(update={"legs": [LegSpec(symbol=symbol, strategy=strategy)]})


def backtest_policy(
    policy: PolicyModel,
    bars: BarArrays,
    execution: BacktestSpec,
    *,
    features: npt.NDArray[np.float32] | None = None,
    sentiment: npt.NDArray[np.float64] | None = None,
    model_version: str | None = None,
) -> BacktestResult:
    """Run the policy's deterministic decisions over `bars` through the engine.

    The first `FeatureSpec.warmup` bars warm the features up (flat); from there on the policy
    trades exactly as `TradingEnv` would step it from a flat start.
    """
    if features is None:
        features = build_features(bars, policy.feature_spec, sentiment)
    params: dict[str, Any] = {"model": model_version} if model_version else {}
    leg_spec = _one_leg(execution, bars.symbol, StrategyRef(name="policy", params=params))
    if leg_spec.risk.min_confidence is None:
        return run_signals(leg_spec, [bars], [policy_signals(policy, features)])
    signals, confidence = policy_decisions(policy, features)  # as the policy strategy gives
    return run_signals(leg_spec, [bars], [signals], [confidence])


@dataclass(frozen=True)
class Comparison:
    """The policy's report beside buy-and-hold and the best rule strategy on the same bars."""

    policy: BacktestResult
    buy_and_hold: BacktestResult
    best_rule: BacktestResult | None
    best_rule_name: str | None
    rules: dict[str, float]
    """Total return of every rule strategy tried (default parameters)."""


def compare_with_rules(
    policy_result: BacktestResult,
    bars: BarArrays,
    execution: BacktestSpec,
    rule_names: list[str],
    rule_params: Mapping[str, dict[str, Any]] | None = None,
) -> Comparison:
    """Back-test buy-and-hold and each rule strategy (default parameters unless given) on the
    same bars and execution rules; the best is the one with the highest total return (picked
    with hindsight on this window, which favours the rules, not the policy)."""
    bars_by_symbol = {bars.symbol: bars}

    def run(name: str) -> BacktestResult:
        params = dict((rule_params or {}).get(name, {}))
        spec = _one_leg(execution, bars.symbol, StrategyRef(name=name, params=params))
        return run_backtest(spec, bars_by_symbol)

    benchmark = run("buy_and_hold")
    returns: dict[str, float] = {}
    best: tuple[float, str, BacktestResult] | None = None
    for name in rule_names:
        if name in EXCLUDED_RULES:
            continue
        try:
            result = run(name)
        except InvalidRequest:
            continue  # a strategy that cannot run on these bars (too short a window) is skipped
        score = float(result.metrics.get("total_return") or 0.0)
        returns[name] = score
        if best is None or score > best[0]:
            best = (score, name, result)
    return Comparison(
        policy=policy_result,
        buy_and_hold=benchmark,
        best_rule=best[2] if best else None,
        best_rule_name=best[1] if best else None,
        rules=returns,
    )

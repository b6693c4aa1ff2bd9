"""Tournament evidence split by market regime: which strategies won out of sample in which
regime, from the same out-of-sample returns the tournament ranks.

Each out-of-sample bar's return is filed under the regime `velocitas.research.regimes` gave the
bar before it (what was known when the position was held: point in time), summarised as power
sums (count and the sums of r, r^2, r^3, r^4), which pool exactly across entries and give the
moments the deflated Sharpe ratio needs. Per regime, each strategy's entries (all its symbols
and timeframes) are pooled and the strategies ranked by their per-bar Sharpe ratio, deflated
for the tournament's number of trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.research.overfitting import ReturnMoments, deflated_sharpe_ratio
from velocitas.research.regimes import Regime

__all__ = ["moments_from_sums", "rank_by_regime", "regime_sums"]

Sums = list[float]  # [count, sum r, sum r^2, sum r^3, sum r^4]


def regime_sums(returns: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, Sums]:
    """Power sums of `returns` per regime `labels` (`Regime` values; UNKNOWN and NaN skipped)."""
    r = np.asarray(returns, dtype=np.float64)
    lab = np.asarray(labels)
    out: dict[str, Sums] = {}
    for regime in Regime:
        if regime is Regime.UNKNOWN:
            continue
        part = r[(lab == regime.value) & np.isfinite(r)]
        if len(part):
            out[regime.label] = [float(len(part))] + [float(np.sum(part**k)) for k in (1, 2, 3, 4)]
    return out


def moments_from_sums(sums: Sums) -> ReturnMoments:
    """Population moments from power sums (as `overfitting.return_moments` would give)."""
    n, s1, s2, s3, s4 = sums
    if n < 1:
        return ReturnMoments(0.0, 0.0, 3.0, 0)
    mean = s1 / n
    m2 = s2 / n - mean**2
    if m2 <= 1e-300:
        return ReturnMoments(0.0, 0.0, 3.0, int(n))
    m3 = s3 / n - 3 * mean * s2 / n + 2 * mean**3
    m4 = s4 / n - 4 * mean * s3 / n + 6 * mean**2 * s2 / n - 3 * mean**4
    return ReturnMoments(mean / math.sqrt(m2), m3 / m2**1.5, m4 / m2**2, int(n))


def rank_by_regime(
    entries: Sequence[dict[str, Any]], *, trials: int, threshold: float
) -> dict[str, list[dict[str, Any]]]:
    """Per regime, the strategies ranked by their pooled out-of-sample per-bar Sharpe ratio,
    each with its bars, mean return per bar, markets and deflated Sharpe ratio."""
    pooled: dict[str, dict[str, tuple[Sums, set[str]]]] = {}
    for entry in entries:
        for label, sums in (entry.get("regimes") or {}).items():
            by_strategy = pooled.setdefault(label, {})
            total, markets = by_strategy.get(entry["strategy"], ([0.0] * 5, set()))
            by_strategy[entry["strategy"]] = (
                [a + b for a, b in zip(total, sums, strict=True)],
                markets | {f"{entry['symbol']} {entry['timeframe']}"},
            )
    out: dict[str, list[dict[str, Any]]] = {}
    for label in [r.label for r in Regime if r.label in pooled]:
        rows: list[dict[str, Any]] = []
        for strategy, (sums, markets) in pooled[label].items():
            moments = moments_from_sums(sums)
            variance = 1.0 / (moments.observations - 1) if moments.observations > 1 else 0.0
            dsr = deflated_sharpe_ratio(moments, trials=max(trials, 1), trials_variance=variance)
            rows.append(
                {
                    "strategy": strategy,
                    "bars": moments.observations,
                    "mean_return": sums[1] / sums[0] if sums[0] else None,
                    "sharpe_per_bar": moments.sharpe,
                    "deflated_sharpe": dsr.value,
                    "passes": dsr.passes(threshold),
                    "markets": sorted(markets),
                }
            )
        rows.sort(key=lambda row: -row["sharpe_per_bar"])
        out[label] = [{"rank": i + 1, **row} for i, row in enumerate(rows)]
    return out

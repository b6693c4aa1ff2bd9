"""Regime classification: speed over 1M bars against a pandas/`ta` build of the same measures,
and accuracy against the regimes `velocitas.synth` plants (confusion matrix, balanced accuracy,
lag to detect a switch).

    python bench/bench_regimes.py [--bars 1000000] [--repeats 5]

Two planted sets: synth's default REGIMES (calm uptrend, volatile selloff, quiet range: their
drifts are far below what five days of bars can show, so only volatility tells them apart) and
TREND_REGIMES (up, down, range, volatile, with drifts a 50-bar t-statistic sees), 1h bars.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import ta

from velocitas.domain.timeframe import Timeframe
from velocitas.research.regimes import (
    SYNTH_LABELS,
    TREND_SYNTH_LABELS,
    Regime,
    RegimeParams,
    regime_labels,
)
from velocitas.synth import REGIMES, TREND_REGIMES, synth_bars, synth_regimes
from velocitas.synth import Regime as Planted

NAMES = [r.label for r in Regime if r is not Regime.UNKNOWN]


def _columns(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(
        pc.cast(table.column(c), pa.float64()).to_numpy() for c in ("high", "low", "close")
    )


def _planted(
    bars: int,
    timeframe: Timeframe,
    seed: int,
    regimes: tuple[Planted, ...],
    labels: tuple[Regime, ...],
    mean: float | None,
) -> tuple[np.ndarray, ...]:
    table = synth_bars(bars, timeframe, seed, regimes=regimes, mean_regime_bars=mean)
    path = synth_regimes(bars, timeframe, seed, regimes=regimes, mean_regime_bars=mean)
    return (*_columns(table), np.array([int(x) for x in labels])[path])


def peer_labels(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, p: RegimeParams
) -> np.ndarray:
    """The same rule with pandas rolling windows and `ta`'s ADX (no fused loop)."""
    adx = ta.trend.ADXIndicator(
        pd.Series(high), pd.Series(low), pd.Series(close), p.adx_period
    ).adx()
    r = np.log(pd.Series(close)).diff()
    mean = r.rolling(p.window).mean()
    sd = r.rolling(p.window).std(ddof=0)
    t = mean / (sd / np.sqrt(p.window))
    lv = np.log(sd)
    history = lv.ewm(span=p.vol_lookback, adjust=False)
    z = (lv - history.mean().shift(1)) / np.sqrt(history.var(bias=True).shift(1))
    from statistics import NormalDist

    volatile = (z >= NormalDist().inv_cdf(p.volatile_percentile)) & (
        lv - history.mean().shift(1) >= np.log(p.volatile_ratio)
    )
    trend = (t.abs() >= p.t_threshold) & (adx >= p.adx_threshold)
    labels = np.where(volatile, 3, np.where(trend, np.where(mean > 0, 1, 2), 0))
    labels[: p.warmup] = -1
    return labels


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def speed(bars: int, repeats: int) -> None:
    high, low, close, _ = _planted(bars, Timeframe.H1, 7, REGIMES, SYNTH_LABELS, None)
    p = RegimeParams()
    regime_labels(high[:5000], low[:5000], close[:5000])  # compile (cached on disk after)
    wall, cpu = _timed(lambda: regime_labels(high, low, close, p), repeats)
    peer_wall, peer_cpu = _timed(lambda: peer_labels(high, low, close, p), max(1, repeats // 2))
    ours = regime_labels(high, low, close, p)[0]
    agree = np.mean(ours == peer_labels(high, low, close, p))
    print(f"speed, {bars} bars, best of {repeats}:")
    print(f"  velocitas regime_labels   wall {wall * 1e3:8.1f} ms   cpu {cpu * 1e3:8.1f} ms")
    print(
        f"  pandas + ta, same rule    wall {peer_wall * 1e3:8.1f} ms   cpu {peer_cpu * 1e3:8.1f} ms"
    )
    print(
        f"  ratio (peer / ours, wall) {peer_wall / wall:.1f}x; labels agree on {agree:.1%} of bars"
    )


def accuracy(title: str, sets: list[tuple[np.ndarray, ...]]) -> None:
    matrix = np.zeros((4, 4), dtype=np.int64)
    lags: list[int] = []
    missed = switches = 0
    for high, low, close, truth in sets:
        labels, _ = regime_labels(high, low, close)
        known = labels >= 0
        np.add.at(matrix, (truth[known], labels[known]), 1)
        edges = np.flatnonzero(np.diff(truth)) + 1
        ends = np.r_[edges[1:], len(truth)]
        for start, stop in zip(edges, ends, strict=True):
            if start < RegimeParams().warmup:
                continue
            switches += 1
            hit = np.flatnonzero(labels[start:stop] == truth[start])
            if len(hit):
                lags.append(int(hit[0]))
            else:
                missed += 1
    present = matrix.sum(axis=1) > 0
    recall = np.diag(matrix)[present] / matrix.sum(axis=1)[present]
    print(f"\n{title}: {int(matrix.sum())} bars classified")
    print("  truth \\ predicted " + " ".join(f"{n:>13}" for n in NAMES))
    for k in np.flatnonzero(present):
        print(f"  {NAMES[k]:>17} " + " ".join(f"{v:>13}" for v in matrix[k]))
    print(
        "  recall: "
        + ", ".join(
            f"{NAMES[k]} {r:.3f}" for k, r in zip(np.flatnonzero(present), recall, strict=True)
        )
    )
    print(f"  balanced accuracy {recall.mean():.3f}")
    if lags:
        q = np.percentile(lags, [50, 75, 90])
        print(
            f"  lag to detect a switch (bars): median {q[0]:.0f}, p75 {q[1]:.0f}, p90 {q[2]:.0f}; "
            f"{missed} of {switches} switches never detected before the next one"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    speed(args.bars, args.repeats)
    for timeframe in (Timeframe.M1, Timeframe.H1):
        data = _planted(args.bars, timeframe, 7, REGIMES, SYNTH_LABELS, None)
        accuracy(f"synth REGIMES, {timeframe} bars (default regime lengths)", [data])
    # Planted trends compound: 20k-bar series keep prices within 8-decimal range.
    chunks = [
        _planted(20_000, Timeframe.H1, seed, TREND_REGIMES, TREND_SYNTH_LABELS, 500)
        for seed in range(max(1, args.bars // 20_000))
    ]
    accuracy("synth TREND_REGIMES, 1h bars, mean regime 500 bars", chunks)


if __name__ == "__main__":
    main()

"""Metrics and strategy signals on 1,000,000 one-minute bars: Velocitas vs vectorbt and pandas.

    python bench/bench_metrics.py [--bars 1000000] [--repeat 20] [--keep-memory]

Metrics: `velocitas.metrics.compute_metrics` (every metric of the report, trade statistics
included) against the same return/drawdown metrics from vectorbt's `ReturnsAccessor` (total
return, annualised return, volatility, Sharpe, Sortino, Calmar, max drawdown and its duration)
and against straightforward pandas formulas (quantstats style), on the same equity curve in the
same process. Each side is warmed up once (numba compilation) and then timed; the figure is
the median. The values are printed side by side so the comparison is of like with like.

Signals: every built-in strategy on the same 1M bars, and vectorbt's MA crossover signals
(`MA.run` + `ma_crossed_above/below`) as the peer for `sma_cross`.

`--keep-memory` tells glibc (mallopt) to keep freed memory instead of returning it to the
OS. Without it, every fresh 8 MB array is page-faulted in again on each call, which on a busy
virtual machine costs milliseconds per array and can dominate a kernel that itself takes one
or two; the option shows the computation alone. It applies to both sides.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import math
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from velocitas.domain.bars import BarArrays
from velocitas.metrics import compute_metrics, periods_per_year
from velocitas.strategies import registry

MINUTE_NS = 60 * 10**9
INITIAL = 10_000.0


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median ms, best ms, result) after one warm-up call (numba compilation, caches)."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3, result


def _data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2026)
    steps = rng.normal(0.00002, 0.001, n)
    steps[rng.uniform(size=n) < 0.4] = 0.0  # flat while out of the market
    equity = INITIAL * np.exp(np.cumsum(steps))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    pnls = rng.normal(2.0, 50.0, 5_000)
    opened_at = np.arange(n, dtype=np.int64) * MINUTE_NS
    return equity, opened_at, pnls, close


def _ours(equity: np.ndarray, opened_at: np.ndarray, pnls: np.ndarray, close: np.ndarray) -> Any:
    return compute_metrics(
        equity,
        opened_at,
        pnls,
        pnls / 1_000.0,
        timeframe="1m",
        calendar="crypto_24_7",
        fees_paid=123.0,
        exposure_bars=len(equity) // 2,
        benchmark_close=close,
        initial_equity=INITIAL,
    )


def _vectorbt(equity: np.ndarray, opened_at: np.ndarray) -> Callable[[], dict[str, float]]:
    import vectorbt  # noqa: F401 (registers the .vbt accessor)

    index = pd.DatetimeIndex(opened_at, tz="UTC")
    returns = pd.Series(np.diff(np.r_[INITIAL, equity]) / np.r_[INITIAL, equity[:-1]], index=index)
    settings = {"freq": "1min", "year_freq": "365 days"}

    def run() -> dict[str, float]:
        acc = returns.vbt.returns(**settings)
        return {
            "total_return": acc.total(),
            "cagr": acc.annualized(),
            "annualised_volatility": acc.annualized_volatility(),
            "sharpe": acc.sharpe_ratio(),
            "sortino": acc.sortino_ratio(),
            "calmar": acc.calmar_ratio(),
            "max_drawdown": -acc.max_drawdown(),
            "max_drawdown_duration_bars": acc.drawdowns.max_duration(),
        }

    return run


def _pandas(equity: np.ndarray) -> Callable[[], dict[str, float]]:
    per_year = periods_per_year("1m", "crypto_24_7")
    values = pd.Series(np.r_[INITIAL, equity])

    def run() -> dict[str, float]:
        r = values.pct_change().dropna()
        under = values < values.cummax()
        runs = under.ne(under.shift()).cumsum()[under]
        years = len(r) / per_year
        cagr = (values.iloc[-1] / values.iloc[0]) ** (1 / years) - 1
        max_dd = (1 - values / values.cummax()).max()
        return {
            "total_return": values.iloc[-1] / values.iloc[0] - 1,
            "cagr": cagr,
            "annualised_volatility": r.std() * math.sqrt(per_year),
            "sharpe": r.mean() / r.std() * math.sqrt(per_year),
            "sortino": r.mean() / math.sqrt((r.clip(upper=0) ** 2).mean()) * math.sqrt(per_year),
            "calmar": cagr / max_dd,
            "max_drawdown": max_dd,
            # time under water, ends excluded: one less than peak-to-recovery
            "max_drawdown_duration_bars": float(runs.value_counts().max()) + 1,
        }

    return run


def _signals(n: int, repeat: int) -> None:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    spread = close * rng.uniform(0, 0.001, n)
    bars = BarArrays(
        "BENCH",
        "1m",
        np.arange(n, dtype=np.int64) * MINUTE_NS,
        close,
        close + spread,
        close - spread,
        close,
        np.ones(n),
    )
    examples: dict[str, dict[str, Any]] = {
        "ensemble": {
            "members": [
                {"name": "sma_cross"},
                {"name": "rsi_reversion"},
                {"name": "donchian_breakout"},
            ]
        },
    }
    print(f"\nStrategy signals on {n:,} bars (median of runs, best in brackets)")
    ours_sma = math.nan
    for name in registry.names():
        strategy = registry.build(name, examples.get(name, {}))
        ms, best, _ = _timed(lambda s=strategy: s.signals(bars), repeat)
        print(f"  {name:<22}{ms:9.2f} ms  (best {best:7.2f})   {strategy!r}")
        if name == "sma_cross":
            ours_sma = ms

    import vectorbt as vbt

    series = pd.Series(close)

    def vbt_cross() -> Any:
        fast = vbt.MA.run(series, 10)
        slow = vbt.MA.run(series, 50)
        return fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)

    peer_ms, peer_best, _ = _timed(vbt_cross, max(3, repeat // 4))
    print(f"  vectorbt MA(10/50) crossed_above/below: {peer_ms:.2f} ms (best {peer_best:.2f})")
    print(f"  sma_cross(10/50) ratio vectorbt / ours: {peer_ms / ours_sma:.1f}x")


def _keep_freed_memory() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_trim_threshold, 2**30)
    libc.mallopt(m_mmap_threshold, 2**30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep-memory", action="store_true", help="mallopt: no trimming")
    args = parser.parse_args()
    if args.keep_memory:
        _keep_freed_memory()
    warnings.simplefilter("ignore")  # vectorbt's FutureWarnings about pandas

    equity, opened_at, pnls, close = _data(args.bars)
    ours_ms, ours_best, ours = _timed(lambda: _ours(equity, opened_at, pnls, close), args.repeat)
    vbt_ms, vbt_best, peer = _timed(_vectorbt(equity, opened_at), max(3, args.repeat // 4))
    pd_ms, pd_best, plain = _timed(_pandas(equity), max(3, args.repeat // 4))

    print(f"Metrics on a {args.bars:,}-bar one-minute equity curve (median of runs, best)")
    label = f"velocitas compute_metrics (all {len(ours)} metrics):"
    print(f"  {label:<44}{ours_ms:8.2f}  {ours_best:8.2f} ms")
    print(f"  {'vectorbt ReturnsAccessor (8 metrics):':<44}{vbt_ms:8.2f}  {vbt_best:8.2f} ms")
    print(f"  {'pandas formulas (8 metrics):':<44}{pd_ms:8.2f}  {pd_best:8.2f} ms")
    print(f"  ratio vectorbt / velocitas: {vbt_ms / ours_ms:6.1f}x")
    print(f"  ratio pandas / velocitas:   {pd_ms / ours_ms:6.1f}x")
    print(f"\n  {'metric':<28}{'velocitas':>16}{'vectorbt':>16}{'pandas':>16}")
    for key in peer:
        theirs = peer[key]
        if isinstance(theirs, pd.Timedelta):
            theirs = theirs / pd.Timedelta(minutes=1)
        print(f"  {key:<28}{ours[key]:>16.6f}{float(theirs):>16.6f}{plain[key]:>16.6f}")

    _signals(args.bars, args.repeat)


if __name__ == "__main__":
    main()

"""Sweep benchmark: 100 combinations on 1M one-minute bars, every registered strategy, and
SMA crossover against vectorbt.

    python bench/bench_sweep.py [--bars 1000000] [--repeat 3] [--vbt-combos 100]
                                [--strategies all|NAME,...] [--no-vbt]

Every registered strategy (issue 13, item 3): 100 combinations of its parameters (`GRIDS`),
each strategy in a fresh child process (`--only NAME`) so that its peak RSS (VmHWM: the
whole process, imports, numba and the bars included) is its own. Wall and process CPU time of
`run_sweep` end to end, best of --repeat after a warm-up sweep.

One process, one seeded GBM series (the engine benchmark's). The grid: fast 5..50 step 5 ×
slow 60..240 step 20 = 100 combinations, 0.1 % fees, all-in sizing, fills at the next open.

- ours: `velocitas.research.sweeps.run_sweep` end to end (bar selection, parameter validation, the
  parallel numba fast path on every core, objective and ranking);
- vectorbt: its idiomatic multi-parameter run: `vbt.MA.run` over the fast and the slow
  windows (one column per combination), `ma_crossed_above` / `ma_crossed_below`, shifted one
  bar for next-open fills, then one `Portfolio.from_signals` over all columns, and the Sharpe
  ratio per column. With --vbt-combos below 100 it runs that many columns and the time is
  scaled linearly to 100 (its work is per column), which the output says.

Peak memory: tracemalloc's peak during one run (numpy allocations included) and the process's
ru_maxrss after each side (ours runs first, so the first figure is ours alone plus imports).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import FEE, gbm, spec
from velocitas.domain.bars import BarArrays
from velocitas.research.grid import grid_combinations
from velocitas.research.sweeps import run_sweep

FAST = list(range(5, 55, 5))
SLOW = list(range(60, 260, 20))

# 100 combinations per registered strategy (fees, sizing and fills of `bench_engine.spec`).
GRIDS: dict[str, dict[str, list[Any]]] = {
    "bollinger_reversion": {
        "period": list(range(10, 110, 10)),
        "k": [1.0 + 0.25 * i for i in range(10)],
    },
    "buy_and_hold": {},  # no parameter: the same run 100 times
    "donchian_breakout": {"period": list(range(20, 220, 20)), "exit_period": list(range(2, 22, 2))},
    "ema_cross": {"fast": FAST, "slow": SLOW},
    "ensemble": {"threshold": [i / 100 for i in range(100)]},
    "macd_cross": {
        "fast": [6, 8, 10, 12, 14],
        "slow": [20, 26, 32, 40],
        "signal": [5, 7, 9, 11, 13],
    },
    "momentum": {
        "period": list(range(10, 110, 10)),
        "threshold": [0.05 * i for i in range(10)],
    },
    "rsi_reversion": {"period": list(range(7, 27, 2)), "lower": list(range(20, 40, 2))},
    "sma_cross": {"fast": FAST, "slow": SLOW},
}
FIXED: dict[str, dict[str, Any]] = {
    "ensemble": {
        "members": [
            {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
            {"name": "rsi_reversion", "params": {"period": 14}, "weight": 2.0},
            {"name": "momentum", "params": {"period": 30}, "weight": 0.5},
        ]
    }
}


def strategy_combos(name: str) -> list[dict[str, Any]]:
    if not GRIDS[name]:
        return [{} for _ in range(100)]
    combos, _ = grid_combinations(name, GRIDS[name], fixed=FIXED.get(name))
    return combos


def one_strategy(name: str, bars: BarArrays, repeat: int) -> dict[str, Any]:
    """Time `run_sweep` over `name`'s 100 combinations (child process mode)."""
    combos = strategy_combos(name)
    base = spec().model_dump(mode="json")
    base["legs"][0]["strategy"] = {"name": name, "params": FIXED.get(name, {})}
    the_spec = type(spec()).model_validate(base)
    run_sweep(the_spec, {"BENCH": bars}, combos[:2], objective="sharpe")  # warm-up
    best, best_cpu = float("inf"), float("inf")
    result = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run_sweep(the_spec, {"BENCH": bars}, combos, objective="sharpe")
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return {
        "strategy": name,
        "combinations": len(combos),
        "path": result.path,
        "wall_s": best,
        "cpu_s": best_cpu,
        "maxrss_mib": peak_rss_mib(),
        "trades_best": result.rows[0]["trades"] if result.rows else None,
    }


def every_strategy(names: list[str], n_bars: int, repeat: int) -> None:
    print(f"\nevery registered strategy: 100 combinations on {n_bars} bars, one child each")
    print(f"{'strategy':<20} {'path':<8} {'wall s':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
    for name in names:
        out = subprocess.run(
            [sys.executable, __file__, "--only", name, "--bars", str(n_bars),
             "--repeat", str(repeat)],
            check=True, capture_output=True, text=True, env=os.environ,
        )  # fmt: skip
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name:<20} {row['path']:<8} {row['wall_s']:>7.3f} {row['cpu_s']:>7.3f} "
            f"{row['maxrss_mib']:>13.0f}"
        )


def ours(bars: BarArrays, combos: list[dict[str, Any]]) -> Any:
    result = run_sweep(spec(), {"BENCH": bars}, combos, objective="sharpe")
    assert result.path == "fast"
    return result


def vectorbt_sweep(bars: BarArrays, combos: list[dict[str, Any]]) -> Any:
    import pandas as pd
    import vectorbt as vbt

    index = pd.DatetimeIndex(bars.opened_at.astype("datetime64[ns]"))
    close = pd.Series(bars.close, index=index)
    fast = vbt.MA.run(close, window=[c["fast"] for c in combos], short_name="fast")
    slow = vbt.MA.run(close, window=[c["slow"] for c in combos], short_name="slow")
    entries = fast.ma_crossed_above(slow)
    exits = fast.ma_crossed_below(slow)
    # Next-open fills: act one bar after the signal, at that bar's open.
    entries = entries.vbt.fshift(1, fill_value=False)
    exits = exits.vbt.fshift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(
        close, entries=entries, exits=exits, price=pd.Series(bars.open, index=index),
        fees=FEE, init_cash=10_000.0, freq="1min",
    )  # fmt: skip
    return pf.sharpe_ratio()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(best wall s, best process CPU s over all threads, fn's result) after a warm-up call.

    On a shared machine CPU time is the steadier figure: wall time counts the waits for a
    core; CPU time / threads is what the wall time would be with the cores to ourselves.
    """
    out = fn()  # warm-up: numba compilation, imports
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    return best, best_cpu, out


def traced_peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM): unlike ru_maxrss it starts afresh at exec,
    so a child started after the vectorbt part does not report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return maxrss_mib()


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--vbt-combos", type=int, default=100)
    parser.add_argument("--vbt-repeat", type=int, default=1)
    parser.add_argument("--strategies", default="all", help="all, none or NAME,NAME")
    parser.add_argument("--no-vbt", action="store_true", help="skip the SMA vs vectorbt part")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # child mode: one strategy, JSON out
    args = parser.parse_args()

    bars = gbm(args.bars)
    if args.only:
        print(json.dumps(one_strategy(args.only, bars, args.repeat)))
        return
    from velocitas.strategies import registry

    names = registry.names() if args.strategies == "all" else []
    if args.strategies not in ("all", "none"):
        names = args.strategies.split(",")
    if names:  # first: vectorbt's gigabytes would not matter (VmHWM), but its load would
        every_strategy(names, args.bars, args.repeat)
    if not args.no_vbt:
        versus_vectorbt(bars, args)


def versus_vectorbt(bars: BarArrays, args: argparse.Namespace) -> None:
    import numba

    combos, _ = grid_combinations("sma_cross", {"fast": FAST, "slow": SLOW})
    assert len(combos) == 100
    print(f"{args.bars} bars, {len(combos)} combinations, numba threads {numba.get_num_threads()}")

    ours_s, ours_cpu, result = timed(lambda: ours(bars, combos), args.repeat)
    ours_peak = traced_peak_mib(lambda: ours(bars, combos))
    ours_rss = maxrss_mib()
    best = result.rows[0]
    print(f"ours: best {ours_s * 1e3:.0f} ms wall, {ours_cpu * 1e3:.0f} ms CPU; "
          f"tracemalloc peak {ours_peak:.0f} MiB; ru_maxrss {ours_rss:.0f} MiB; "
          f"top: {best['params']} sharpe {best['sharpe']:.3f}")  # fmt: skip

    subset = combos[: args.vbt_combos]
    vbt_s, vbt_cpu, sharpe = timed(lambda: vectorbt_sweep(bars, subset), args.vbt_repeat)
    vbt_peak = traced_peak_mib(lambda: vectorbt_sweep(bars, subset))
    vbt_rss = maxrss_mib()
    scale = len(combos) / len(subset)
    print(f"vectorbt ({len(subset)} combinations): best {vbt_s:.2f} s wall, {vbt_cpu:.2f} s CPU; "
          f"tracemalloc peak "
          f"{vbt_peak:.0f} MiB; ru_maxrss (process, after) {vbt_rss:.0f} MiB")  # fmt: skip
    if scale != 1:
        print(f"vectorbt scaled to {len(combos)} combinations: {vbt_s * scale:.2f} s")
    print(
        f"ratio vectorbt / ours: wall {vbt_s * scale / ours_s:.0f}x, "
        f"CPU {vbt_cpu * scale / ours_cpu:.0f}x"
    )
    ours_sharpe = {(r["params"]["fast"], r["params"]["slow"]): r["sharpe"] for r in result.rows}
    theirs = np.asarray(sharpe, dtype=np.float64)
    mine = np.asarray([ours_sharpe[(c["fast"], c["slow"])] or np.nan for c in subset])
    agree = np.corrcoef(np.nan_to_num(mine), np.nan_to_num(theirs))[0, 1]
    print(
        f"Sharpe per combination, correlation ours vs vectorbt: {agree:.4f} "
        "(annualisation conventions differ; the ranking is what matters)"
    )


if __name__ == "__main__":
    main()

"""Exact ledger benchmark: `run_backtest` with the scaled-integer ledger vs the Decimal one,
and vs vectorbt `from_signals` + `stats()`, in one process on the same bars.

    python bench/bench_ledger.py [--bars 1000000] [--repeat 9]

The bars and the strategy are `bench_engine.py`'s (seeded GBM one-minute bars, `sma_cross`
10/50, 0.1 % fees, all-in sizing, lot 0.00000001: about 24,000 fills on 1M bars). Timed, after
a warm-up call each (numba compilation, imports):

- the ledger alone on the kernel's fill records: `build_ledger` (scaled integers) and
  `decimal_ledger` (Python's Decimal, the reference);
- the full `run_backtest` (signals, kernel, ledger, metrics, result hash), with the scaled-
  integer ledger and with the Decimal ledger (what `run_backtest` ran before issue 13);
- vectorbt `Portfolio.from_signals` on the same entries, filled at the next open, plus
  `stats()` (its metrics).

Each figure is the median of --repeat runs, wall and CPU (`time.thread_time`, which leaves out
the time the process waited for a core on a busy machine). The script also checks that both
ledgers give the same result hash.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_engine import FEE, SMA_CROSS, gbm, spec

from velocitas.domain.bars import BarArrays
from velocitas.engine import ledger as ledger_module
from velocitas.engine import run_backtest
from velocitas.engine.ledger import LegLabel, build_ledger, decimal_ledger
from velocitas.engine.runner import simulate_legs


def median_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, float]:
    """(median wall ms, median CPU ms) over `repeat` calls after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def vectorbt_with_stats(bars: BarArrays, sides: np.ndarray) -> Any:
    import vectorbt as vbt

    decided = np.concatenate([[0], sides[:-1]])  # next-open fills: act one bar later
    pf = vbt.Portfolio.from_signals(
        bars.close, entries=decided == 1, exits=decided == 0, price=bars.open,
        fees=FEE, init_cash=10_000.0, freq="1min",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    bars = gbm(args.bars)
    sides = SMA_CROSS.signals(bars)
    run_spec = spec()
    grid, fills, rejections, _ = simulate_legs(run_spec, [bars], [sides])
    amounts = {
        "initial_cash": run_spec.initial_cash,
        "lot_size": run_spec.sizing.lot_size,
        "fee_rate": run_spec.fees.rate,
        "fee_fixed": run_spec.fees.fixed,
    }
    legs = [LegLabel("BENCH", "sma_cross")]

    def with_decimal_ledger() -> Any:
        exact = ledger_module.exact_ledger
        ledger_module.exact_ledger = lambda *_, **__: None  # type: ignore[assignment]
        try:
            return run_backtest(run_spec, {"BENCH": bars})
        finally:
            ledger_module.exact_ledger = exact

    fast_hash = run_backtest(run_spec, {"BENCH": bars}).result_hash
    decimal_hash = with_decimal_ledger().result_hash
    if fast_hash != decimal_hash:
        raise SystemExit(f"hash mismatch: {fast_hash} != {decimal_hash}")

    runs: list[tuple[str, Callable[[], Any]]] = [
        ("ledger: scaled integers", lambda: build_ledger(
            fills, rejections, grid.opened_at, legs, **amounts)),
        ("ledger: Decimal (reference)", lambda: decimal_ledger(
            fills, rejections, grid.opened_at, legs, **amounts)),
        ("run_backtest, scaled-integer ledger", lambda: run_backtest(run_spec, {"BENCH": bars})),
        ("run_backtest, Decimal ledger", with_decimal_ledger),
        ("vectorbt from_signals + stats()", lambda: vectorbt_with_stats(bars, sides)),
    ]  # fmt: skip
    results = {name: median_of(args.repeat, fn) for name, fn in runs}

    print(f"{args.bars:,} one-minute GBM bars, {len(fills):,} fills, {len(rejections):,} "
          f"rejections; median of {args.repeat}; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"result hash (both ledgers): {fast_hash}")
    print(f"{'':40s} {'wall ms':>9s} {'CPU ms':>9s}")
    for name, (wall, cpu) in results.items():
        print(f"{name:40s} {wall:9.1f} {cpu:9.1f}")
    ours = results["run_backtest, scaled-integer ledger"]
    for peer in ("run_backtest, Decimal ledger", "vectorbt from_signals + stats()"):
        theirs = results[peer]
        print(f"{peer} / ours: wall {theirs[0] / ours[0]:.1f}x, CPU {theirs[1] / ours[1]:.1f}x")
    led, ref = results["ledger: scaled integers"], results["ledger: Decimal (reference)"]
    print(f"ledger alone, Decimal / scaled integers: CPU {ref[1] / led[1]:.0f}x")


if __name__ == "__main__":
    main()

"""Engine benchmark: Velocitas vs vectorbt vs backtesting.py on the same synthetic bars.

    python bench/bench_engine.py [--bars 1000000] [--bt-bars 100000] [--repeat 7] [--keep-memory]

One process, one seeded GBM series of one-minute bars. Timed (best of --repeat, after a warm-up
run that compiles numba code):

- a bare numba loop over the same arrays (all-in long on the precomputed sides, fee on each
  fill, the equity at every close): the floor a kernel is judged against on this machine
  (issue 13 item 2: about 3.3 ms where the goals of 8 ms / 12 ms were set);
- ours, the registry's `sma_cross` (10/50), 0.1 % fees, all-in sizing: indicators + signals +
  fills + equity curve (the numba kernel; no Decimal ledger), then the same with SL 2 % +
  TP 4 % + trailing 3 %, then the full `run_backtest` (adds the Decimal ledger, which runs per
  fill, the metrics and the result hash);
- vectorbt `Portfolio.from_signals` on the same entries/exits, filled at the next open;
- backtesting.py with the same strategy on the first --bt-bars bars, scaled linearly to --bars
  (it is a Python loop per bar: linear in bars), unless --bt-bars equals --bars.

Peak memory is measured in a second pass under tracemalloc (numpy allocations included).

`--keep-memory` tells glibc (mallopt) to keep freed memory instead of returning it to the OS.
Without it, every fresh bar-length array (8 MB per million float64) is page-faulted in again
on each run, which on a busy virtual machine costs milliseconds per array and dominates a
kernel of a few milliseconds. It applies to every engine in the process.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.engine.runner import simulate_legs
from velocitas.indicators import sma
from velocitas.strategies import registry

FEE = 0.001


def gbm(n: int, seed: int = 42) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, n)) * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    opened_at = 1_704_067_200 * 10**9 + 60 * 10**9 * np.arange(n, dtype=np.int64)
    return BarArrays("BENCH", "1m", opened_at, open_, high, low, close, np.ones(n))


def spec(stops: dict[str, Any] | None = None) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {
            "symbol": "BENCH",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
            "timeframe": "1m",
            "start": "2024-01-01T00:00:00Z",
            "end": "2030-01-01T00:00:00Z",
            "initial_cash": "10000",
            "fees": {"rate": str(FEE)},
            "sizing": {"mode": "fraction_of_equity", "value": "1", "lot_size": "0.00000001"},
            "stops": stops or {},
        }
    )


STOPS = {
    "stop_loss": {"kind": "percent", "value": "0.02"},
    "take_profit": {"kind": "percent", "value": "0.04"},
    "trailing_stop": {"kind": "percent", "value": "0.03"},
}


SMA_CROSS = registry.build("sma_cross", {"fast": 10, "slow": 50})


@njit(cache=True)
def _bare_loop(open_: np.ndarray, close: np.ndarray, sides: np.ndarray, fee: float) -> int:
    cash, units, fills = 10_000.0, 0.0, 0
    equity = np.empty(len(close))
    equity[0] = cash
    for t in range(1, len(close)):
        if sides[t - 1] == 1 and units == 0.0:
            units = cash / (open_[t] * (1.0 + fee))
            cash = 0.0
            fills += 1
        elif sides[t - 1] != 1 and units != 0.0:
            cash = units * open_[t] * (1.0 - fee)
            units = 0.0
            fills += 1
        equity[t] = cash + units * close[t]
    return fills


def bare_loop(bars: BarArrays, sides: np.ndarray) -> int:
    """The reference floor: one numba pass, precomputed sides, no rules, no records."""
    return _bare_loop(bars.open, bars.close, sides, FEE)


def ours_kernel(bars: BarArrays, run_spec: BacktestSpec) -> int:
    """Strategy signals + the float simulation (fills and equity curve), no Decimal ledger."""
    _, fills, _, _ = simulate_legs(run_spec, [bars], [SMA_CROSS.signals(bars)])
    return len(fills)


def ours_full(bars: BarArrays, run_spec: BacktestSpec) -> int:
    return len(run_backtest(run_spec, {"BENCH": bars}).trades)


def vectorbt_run(bars: BarArrays, sides: np.ndarray, stops: bool) -> int:
    import vectorbt as vbt

    decided = np.concatenate([[0], sides[:-1]])  # next-open fills: act one bar later
    extra: dict[str, Any] = {}
    if stops:
        extra = {"open": bars.open, "high": bars.high, "low": bars.low,
                 "sl_stop": 0.03, "sl_trail": True, "tp_stop": 0.04}  # fmt: skip
    pf = vbt.Portfolio.from_signals(
        bars.close, entries=decided == 1, exits=decided == 0, price=bars.open,
        fees=FEE, init_cash=10_000.0, freq="1min", **extra,
    )  # fmt: skip
    return int(pf.trades.count())


def backtesting_run(bars: BarArrays) -> int:
    import backtesting
    from backtesting.lib import crossover

    class SmaCross(backtesting.Strategy):
        def init(self) -> None:
            close = self.data.Close
            self.fast = self.I(lambda c: sma(np.asarray(c, dtype=np.float64), 10), close)
            self.slow = self.I(lambda c: sma(np.asarray(c, dtype=np.float64), 50), close)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    index = pd.DatetimeIndex(bars.opened_at.astype("datetime64[ns]"))
    frame = pd.DataFrame(
        {"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close,
         "Volume": bars.volume}, index=index,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = backtesting.Backtest(frame, SmaCross, cash=10_000, commission=FEE).run()
    return int(stats["# Trades"])


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, float, int]:
    """(best wall ms, best CPU ms of this thread, fn's count) after one warm-up call.

    CPU time (`time.thread_time`) leaves out the time the process waited for a core, so on a
    shared machine it is the steadier figure; wall time is what a user waits.
    """
    fn()  # warm-up: numba compilation, imports
    wall, cpu = [], []
    out = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        out = fn()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return min(wall) * 1e3, min(cpu) * 1e3, out


def peak_mib(fn: Callable[[], int]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def keep_freed_memory() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_trim_threshold, 2**30)
    libc.mallopt(m_mmap_threshold, 2**30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--bt-bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep-memory", action="store_true", help="mallopt: no trimming")
    args = parser.parse_args()
    if args.keep_memory:
        keep_freed_memory()

    bars = gbm(args.bars)
    sides = SMA_CROSS.signals(bars)
    plain, stopped = spec(), spec(STOPS)
    bt_bars = bars.slice(0, min(args.bt_bars, args.bars))
    scale = args.bars / len(bt_bars)

    runs: list[tuple[str, Callable[[], int], int]] = [
        ("bare numba loop (reference floor)", lambda: bare_loop(bars, sides), args.repeat),
        ("ours: SMA 10/50, fees (kernel)", lambda: ours_kernel(bars, plain), args.repeat),
        ("ours: + SL/TP/trailing (kernel)", lambda: ours_kernel(bars, stopped), args.repeat),
        ("ours: run_backtest (+ ledger, metrics)", lambda: ours_full(bars, plain), 3),
        ("vectorbt from_signals", lambda: vectorbt_run(bars, sides, False), args.repeat),
        ("vectorbt from_signals + stops", lambda: vectorbt_run(bars, sides, True), args.repeat),
        ("backtesting.py", lambda: backtesting_run(bt_bars), 1),
    ]
    results: dict[str, tuple[float, float, int, float]] = {}
    for name, fn, repeat in runs:
        ms, cpu_ms, count = best_of(repeat, fn)
        if name == "backtesting.py":
            ms, cpu_ms = ms * scale, cpu_ms * scale
        results[name] = (ms, cpu_ms, count, peak_mib(fn))

    print(f"{args.bars:,} one-minute GBM bars; backtesting.py on {len(bt_bars):,} bars × {scale:g}")
    print(f"{'run':40} {'wall ms':>10} {'cpu ms':>10} {'count':>8} {'peak MiB':>9}")
    for name, (ms, cpu_ms, count, peak) in results.items():
        print(f"{name:40} {ms:10.1f} {cpu_ms:10.1f} {count:8d} {peak:9.1f}")
    for column, label in ((0, "wall"), (1, "cpu")):
        ours = results["ours: SMA 10/50, fees (kernel)"][column]
        stops = results["ours: + SL/TP/trailing (kernel)"][column]
        vbt = results["vectorbt from_signals"][column]
        vbt_stops = results["vectorbt from_signals + stops"][column]
        bt = results["backtesting.py"][column]
        print(f"{label}: vectorbt / ours {vbt / ours:.1f}x, with stops {vbt_stops / stops:.1f}x, "
              f"backtesting.py / ours {bt / ours:.0f}x")  # fmt: skip
        floor = results["bare numba loop (reference floor)"][column]
        print(f"{label}: ours / bare loop {ours / floor:.2f}x (goal 8 / 3.3 = 2.42x), with stops "
              f"{stops / floor:.2f}x (goal 12 / 3.3 = 3.64x)")  # fmt: skip
    ledger_ms = results["ours: run_backtest (+ ledger, metrics)"][1] - results[
        "ours: SMA 10/50, fees (kernel)"][1]  # fmt: skip
    fills = results["ours: SMA 10/50, fees (kernel)"][2]
    print(f"Decimal ledger + metrics + hash: ~{ledger_ms:.0f} ms CPU for {fills:,} fills")


if __name__ == "__main__":
    main()

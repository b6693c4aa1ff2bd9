"""Kernel time on 1M one-minute bars with and without the issue-14 risk rules.

    python bench/bench_risk_rules.py [--bars 1000000] [--repeat 7] [--keep-memory]

Times `simulate_legs` (the numba kernel, no Decimal ledger) for the registry's `sma_cross`
(10/50) on one seeded GBM series: plain, with SL 2 % / TP 4 % / trailing 3 %, and (where the
engine has them) with every new rule set so that each one binds. Run it on the code before the
rules too (it skips the rule rows there) and compare the first two rows: the rules must not slow
a run that does not use them; then the RL environment's `Stepper.step` rate. Best of --repeat
after a warm-up that compiles. `--keep-memory`
as in bench_engine.py (glibc keeps freed memory: no page faults on each fresh array).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import time
from typing import Any

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.engine.alignment import align
from velocitas.engine.kernel import run_kernel
from velocitas.engine.runner import kernel_config, simulate_legs
from velocitas.strategies import registry


def gbm(n: int, seed: int = 42) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, n)) * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    opened_at = 1_704_067_200 * 10**9 + 60 * 10**9 * np.arange(n, dtype=np.int64)
    return BarArrays("BENCH", "1m", opened_at, open_, high, low, close, np.ones(n))


def spec(**overrides: Any) -> BacktestSpec:
    data: dict[str, Any] = {
        "symbol": "BENCH",
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
        "timeframe": "1m",
        "start": "2024-01-01",
        "end": "2030-01-01",
        "fees": {"rate": "0.001"},
    }
    return BacktestSpec.model_validate(data | overrides)


NO_DAYS = np.zeros(1, dtype=np.int64)
NO_ATR = np.zeros((1, 1))
STOPS = {
    "stop_loss": {"kind": "percent", "value": "0.02"},
    "take_profit": {"kind": "percent", "value": "0.04"},
    "trailing_stop": {"kind": "percent", "value": "0.03"},
}
RULES = {
    "max_trades_per_day": 100,
    "max_open_positions": 1,
    "max_holding_bars": 30,
    "min_confidence": "0.5",
}


def best(run: Any, repeat: int) -> tuple[float, float]:
    """(best wall time, best CPU time of this thread): on a loaded machine the CPU time is the
    steadier of the two (it leaves out the time other processes held the core)."""
    run()  # compile
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.thread_time()
        run()
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - start)
    return min(walls), min(cpus)


def kernel_only(case: BacktestSpec, bars: BarArrays, sides: np.ndarray) -> Any:
    """`run_kernel` alone on prepared arrays, called as the engine before the rules called it
    (the two new arrays left to their defaults): the same call on both versions."""
    grid = align([bars])
    side_grid = grid.place([sides], np.int8, carry=False)
    cfg = kernel_config(case)
    one = np.asarray([1.0])
    return lambda: run_kernel(
        grid.open, grid.high, grid.low, grid.close, grid.has_bar, side_grid, NO_DAYS,
        NO_ATR, NO_ATR, NO_ATR, one, cfg,
    )  # fmt: skip


def keep_freed_memory() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_trim_threshold, 2**30)
    libc.mallopt(m_mmap_threshold, 2**30)


def step_rate(bars: BarArrays, steps: int, repeat: int) -> float:
    """`Stepper.step` calls per second (best CPU time of `repeat` episodes of `steps`): the RL
    environment's engine, which passes the rules' arrays on every step."""
    from velocitas.engine.stepper import Stepper

    stepper = Stepper(spec(strategy={"name": "given"}, allow_short=True), bars)
    sides = np.random.default_rng(0).choice([-1, 0, 1], size=steps).tolist()
    best = np.inf
    for _ in range(repeat):
        stepper.reset(0)
        step = stepper.step
        cpu = time.thread_time()
        for k in range(steps):
            step(sides[k // 7])
        best = min(best, time.thread_time() - cpu)
    return steps / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep-memory", action="store_true", help="mallopt: no trimming")
    args = parser.parse_args()
    if args.keep_memory:
        keep_freed_memory()
    bars = gbm(args.bars)
    sides = registry.build("sma_cross", {"fast": 10, "slow": 50}).signals(bars)
    confidence = np.random.default_rng(1).uniform(0.0, 1.0, len(bars))
    cases: dict[str, BacktestSpec] = {"plain": spec(), "stops": spec(stops=STOPS)}
    if "max_holding_bars" in type(spec().risk).model_fields:
        cases["rules"] = spec(risk=RULES)
        cases["rules+stops"] = spec(risk=RULES, stops=STOPS)
    print(f"{args.bars:,} bars, best of {args.repeat}, load {os.getloadavg()[0]:.2f}")
    print("case         simulate_legs wall / cpu     run_kernel wall / cpu")
    for name, case in cases.items():
        extra = [[confidence]] if name.startswith("rules") else []
        wall, cpu = best(lambda c=case, e=extra: simulate_legs(c, [bars], [sides], *e), args.repeat)
        line = f"{name:12s} {wall * 1e3:8.2f} / {cpu * 1e3:8.2f} ms"
        if not extra:
            k_wall, k_cpu = best(kernel_only(case, bars, sides), args.repeat)
            line += f"   {k_wall * 1e3:8.2f} / {k_cpu * 1e3:8.2f} ms"
        _, fills, rejections, _ = simulate_legs(case, [bars], [sides], *extra)
        print(f"{line}   fills {len(fills)}, rejections {len(rejections)}")
    rate = step_rate(bars, min(100_000, args.bars - 1), 5)
    print(f"Stepper.step {rate / 1e3:8.0f}k steps/s (CPU, best of 5 episodes of 100k steps)")


if __name__ == "__main__":
    main()

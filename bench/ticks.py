"""Intrabar ticks and the `bridge` path model (issue 14).

    python bench/ticks.py [--bars 1000000] [--ticks 60] [--repeat 5]

One process, one seeded GBM series of one-minute bars. Timed (best of --repeat, after a warm-up
call that compiles or loads the numba code):

1. `velocitas.engine.ticks.series_ticks` (numba, one core) against the same bridge written with
   numpy array operations over every bar at once (the same hash, the same steps, the same
   bridge, reflection and pins; there is no published bridge generator to compare with).
   Their ticks are checked equal to 1e-9 relative before timing (numpy's cumulative sum may
   round in another order);
2. the backtest kernel (`runner.simulate_legs`: target sides given, no Decimal ledger) with
   SL 0.5 % + TP 1 % + trailing 0.7 % on SMA(10/50) sides, with `intrabar_path` `pessimistic`
   and `bridge`: bars/s, and for the bridge the ticks walked per second (bars holding a
   position × ticks per bar: the walk covers every one of them; a bar on which no level can be
   reached is decided without drawing its ticks, with the result walking them would give);
3. the worst case of that walk: every bar's ticks drawn (`bar_ticks`) and walked (`walk_ticks`)
   for a long with a trailing stop too wide to fire, in one numba loop: ticks drawn and walked
   per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec
from velocitas.engine.codes import F_BAR, F_REASON, REASON_ENTRY, STOP_PERCENT
from velocitas.engine.runner import simulate_legs
from velocitas.engine.ticks import SIGMA_FRACTION, bar_ticks, series_ticks, symbol_key, walk_ticks
from velocitas.indicators import sma

U64 = npt.NDArray[np.uint64]
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def gbm(n: int, seed: int = 42) -> BarArrays:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, n)) * close
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    opened_at = 1_704_067_200 * 10**9 + 60 * 10**9 * np.arange(n, dtype=np.int64)
    return BarArrays("BENCH", "1m", opened_at, open_, high, low, close, np.ones(n))


def _mix(x: U64) -> U64:
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))  # type: ignore[no-any-return]


def _uniform(state: U64, draws: U64) -> npt.NDArray[np.float64]:
    return (_mix(state + draws * _GOLDEN) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def numpy_ticks(seed: int, symbol: str, bars: BarArrays, n: int) -> npt.NDArray[np.float64]:
    """`series_ticks` with numpy array operations over all bars and ticks at once."""
    with np.errstate(over="ignore"):
        key = np.uint64(symbol_key(symbol))
        seed_state = _mix(np.array([seed], dtype=np.uint64))[0]
        state = _mix(_mix(np.full(1, seed_state ^ key)) ^ bars.opened_at.astype(np.uint64))
        state = state[:, None]
        a = 1 + (_uniform(state, np.array([[0]], np.uint64)) * (n - 2)).astype(np.int64)
        b = 1 + (_uniform(state, np.array([[1]], np.uint64)) * (n - 3)).astype(np.int64)
        b = np.where(b >= a, b + 1, b)
        i1, i2 = np.minimum(a, b)[:, 0], np.maximum(a, b)[:, 0]
        draws = np.arange(2, n + 1, dtype=np.uint64)[None, :]  # step k is draw k + 1
        z = _mix(state + draws * _GOLDEN)
    mask = np.uint64(0xFFFF)
    quarters = (z & mask) + ((z >> np.uint64(16)) & mask) + ((z >> np.uint64(32)) & mask)
    quarters += z >> np.uint64(48)
    steps = (quarters.astype(np.float64) - 131070.0) * (np.sqrt(3.0) / 65536.0)
    walk = np.zeros((len(bars), n))
    np.cumsum(steps, axis=1, out=walk[:, 1:])
    o, h, low, c = bars.open, bars.high, bars.low, bars.close
    high_first = (h - o) < (o - low)
    first = np.where(high_first, h, low)
    second = np.where(high_first, low, h)
    k = np.arange(n)[None, :]
    seg1, seg2 = k <= i1[:, None], k <= i2[:, None]
    col = np.where(seg1, 0, np.where(seg2, i1[:, None], i2[:, None]))
    end = np.where(seg1, i1[:, None], np.where(seg2, i2[:, None], n - 1))
    start_price = np.where(seg1, o[:, None], np.where(seg2, first[:, None], second[:, None]))
    end_price = np.where(seg1, first[:, None], np.where(seg2, second[:, None], c[:, None]))
    w_i = np.take_along_axis(walk, col, axis=1)
    w_j = np.take_along_axis(walk, end, axis=1)
    r = (k - col) * (1.0 / (end - col))
    sigma = (SIGMA_FRACTION * (h - low) / np.sqrt(n))[:, None]
    x = start_price + r * (end_price - start_price) + sigma * (walk - w_i - r * (w_j - w_i))
    x = np.where(x < low[:, None], 2.0 * low[:, None] - x, x)
    x = np.where(x > h[:, None], 2.0 * h[:, None] - x, x)
    x = np.minimum(np.maximum(x, low[:, None]), h[:, None])
    rows = np.arange(len(bars))
    x[:, 0] = o
    x[rows, i1] = first
    x[rows, i2] = second
    x[:, -1] = c
    return x


@njit(cache=True)
def draw_and_walk(
    key: int,
    opened: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    low: np.ndarray,
    c: np.ndarray,
    n: int,
) -> float:
    """Every bar's ticks drawn and walked for a long whose 50 % trailing stop never fires."""
    ticks = np.empty(n)
    extreme = o[0]
    for bar in range(opened.shape[0]):
        bar_ticks(7, key, opened[bar], o[bar], h[bar], low[bar], c[bar], n, ticks)
        _, _, extreme, _ = walk_ticks(1, ticks, np.nan, np.nan, STOP_PERCENT, 0.5, np.nan, extreme)
    return extreme


def best_of(repeat: int, call: Callable[[], Any]) -> float:
    call()  # warm-up: compile or load numba code, fault pages in
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def spec(path: str, ticks: int) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {
            "symbol": "BENCH",
            "strategy": {"name": "given"},
            "timeframe": "1m",
            "start": "2024-01-01T00:00:00Z",
            "end": "2030-01-01T00:00:00Z",
            "initial_cash": "10000",
            "fees": {"rate": "0.001"},
            "stops": {
                "stop_loss": {"kind": "percent", "value": "0.005"},
                "take_profit": {"kind": "percent", "value": "0.01"},
                "trailing_stop": {"kind": "percent", "value": "0.007"},
                "intrabar_path": path,
                "ticks_per_bar": ticks,
            },
        }
    )


def held_bars(fills: np.ndarray, n: int) -> int:
    """Bars on which a position was open when the stops were checked (entry bar..exit bar)."""
    held = 0
    entry = -1
    for row in fills:
        if row[F_REASON] == REASON_ENTRY:
            entry = int(row[F_BAR])
        elif entry >= 0:
            held += int(row[F_BAR]) - entry + 1
            entry = -1
    return held + (n - entry if entry >= 0 else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = gbm(args.bars)
    n, ticks = args.bars, args.ticks

    def ours() -> Any:
        return series_ticks(7, "BENCH", bars.opened_at, bars.open, bars.high, bars.low,
                            bars.close, ticks)  # fmt: skip

    sample = gbm(20_000)
    reference = series_ticks(7, "BENCH", sample.opened_at, sample.open, sample.high, sample.low,
                             sample.close, ticks)  # fmt: skip
    np.testing.assert_allclose(numpy_ticks(7, "BENCH", sample, ticks), reference, rtol=1e-9)
    numpy_bars = min(n, 50_000)  # numpy's temporaries: ~15 arrays of bars × ticks float64
    part = BarArrays("BENCH", "1m", *(getattr(bars, f)[:numpy_bars] for f in
                     ("opened_at", "open", "high", "low", "close", "volume")))  # fmt: skip
    ours_s = best_of(args.repeat, ours)
    numpy_s = best_of(max(1, args.repeat // 2), lambda: numpy_ticks(7, "BENCH", part, ticks))
    ours_rate = n * ticks / ours_s
    numpy_rate = numpy_bars * ticks / numpy_s
    print(f"series_ticks  {n:,} bars x {ticks} ticks: {ours_s * 1e3:8.1f} ms  "
          f"{ours_rate / 1e6:6.1f} M ticks/s")  # fmt: skip
    print(
        f"numpy bridge  {numpy_bars:,} bars x {ticks} ticks: {numpy_s * 1e3:8.1f} ms  "
        f"{numpy_rate / 1e6:6.1f} M ticks/s   ours / numpy = {ours_rate / numpy_rate:.1f}x"
    )

    sides = np.where(sma(bars.close, 10) > sma(bars.close, 50), 1, 0).astype(np.int8)
    for path in ("pessimistic", "bridge"):
        run = spec(path, ticks)
        seconds = best_of(args.repeat, lambda run=run: simulate_legs(run, [bars], [sides]))
        _, fills, _, _ = simulate_legs(run, [bars], [sides])
        held = held_bars(fills, n)
        rate = n / seconds / 1e3
        line = f"kernel {path:<12} {n:,} bars: {seconds * 1e3:8.1f} ms  {rate:7.0f}k bars/s"
        line += f"  fills {len(fills):,}  bars held {held:,}"
        if path == "bridge":
            line += f"  ticks walked {held * ticks / seconds / 1e6:6.1f} M/s"
        print(line)
    key = symbol_key("BENCH")
    seconds = best_of(
        args.repeat,
        lambda: draw_and_walk(
            key, bars.opened_at, bars.open, bars.high, bars.low, bars.close, ticks
        ),
    )
    print(f"draw + walk every bar's ticks {n:,} bars: {seconds * 1e3:8.1f} ms  "
          f"{n * ticks / seconds / 1e6:6.1f} M ticks/s")  # fmt: skip


if __name__ == "__main__":
    main()

"""Intrabar ticks: a seeded Brownian bridge through a bar's open, high, low and close (numba).

A bar of `n` ticks (tick k prints at `opened_ns + k * bar_ns // n`, k = 0..n-1) is drawn as:

- tick 0 is the open and tick n-1 the close, exactly;
- the high and the low are printed exactly at two distinct seeded ticks i1 < i2 in 1..n-2, in the
  order of the engine's `adaptive` path model (`velocitas.engine.intrabar.high_first`): the high
  first when the open is nearer the high than the low, else the low first. The feed cannot use
  `pessimistic` (it depends on the side of a position the feed does not know);
- between two pinned ticks A at i and B at j, a Brownian bridge:

      X_k = A + r (B - A) + sigma (W_k - W_i - r (W_j - W_i)),   r = (k - i) / (j - i),

  where W is a random walk of unit-variance steps (W_0 = 0, W_k = W_{k-1} + Z_k) and
  sigma = SIGMA_FRACTION * (high - low) / sqrt(n); an X_k outside [low, high] is reflected
  at the bound it crossed (2 low - X_k, or 2 high - X_k), then clipped to [low, high].

Every draw is a pure function of (session seed, symbol key, bar open time, draw counter): a
splitmix64 hash of the four, so the ticks of a bar are reproducible in any order and on any
machine, and nothing needs storing. Each step Z_k is the centred sum of the four 16-bit
quarters of one hash (Irwin-Hall of 4 uniforms) scaled to variance 1: near-normal (a bridge of
such steps converges to the Brownian bridge) at a fraction of Box-Muller's cost (no log, no
cosine).

`walk_ticks` checks a position's stop loss, take profit and trailing stop along one bar's ticks:
a level fires at the first tick at or beyond it and fills at that tick's price (a tick is a
print: a jump through a level fills at the tick, never at the level); the trailing stop's best
price moves tick by tick (each tick is checked against the level set by the ticks before it).
The backtest's `bridge` path model (`walk_bridge`) walks exactly these ticks, so a trading
session that checks stops tick by tick agrees with the backtest.

numba's on-disk cache of a kernel that calls `walk_bridge` (`kernel.simulate`,
`stepper._advance`, `sweep_kernel.simulate_combination`) is keyed by the kernel's own file: a
change to the ticks must change those files too (a docstring line will do), or a warm cache
keeps drawing the previous ticks.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt

from velocitas.domain.timeframe import Timeframe
from velocitas.engine.codes import PATH_ADAPTIVE, REASON_TAKE_PROFIT
from velocitas.engine.intrabar import _protective, adverse_level, high_first
from velocitas.jit import njit

__all__ = [
    "DEFAULT_TICKS_PER_BAR",
    "MIN_TICKS_PER_BAR",
    "SIGMA_FRACTION",
    "TICKS_PER_BAR",
    "bar_ticks",
    "series_ticks",
    "symbol_key",
    "tick_times",
    "ticks_per_bar",
    "walk_bridge",
    "walk_ticks",
]

SIGMA_FRACTION = 0.35
"""The bridge's step deviation as a fraction of the bar's range over sqrt(ticks)."""
MIN_TICKS_PER_BAR = 4
"""Open, high, low and close each need a tick of their own."""
DEFAULT_TICKS_PER_BAR = 60
TICKS_PER_BAR = {
    "1m": 60,  # one a second
    "5m": 120,
    "15m": 180,
    "30m": 240,
    "1h": 240,
    "4h": 360,
    "1d": 480,
    "1w": 480,
    "1mo": 480,
}
"""Ticks per bar of each timeframe, unless a spec's `stops.ticks_per_bar` says otherwise."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 2.0**-53
_DRAW_FIRST_EXTREME = 0  # draw counters: the two extremes' ticks, then the walk's steps
_DRAW_SECOND_EXTREME = 1
_DRAW_STEPS = 2
_MASK16 = np.uint64(0xFFFF)
_S16, _S32, _S48 = np.uint64(16), np.uint64(32), np.uint64(48)
_STEP_SCALE = math.sqrt(3.0) / 65536.0


def symbol_key(symbol: str) -> int:
    """A stable 63-bit key of a symbol: the first 8 bytes of blake2b(UTF-8 name), top bit off."""
    digest = hashlib.blake2b(symbol.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def ticks_per_bar(timeframe: str, override: int | None = None) -> int:
    """`override` if given, else the `TICKS_PER_BAR` entry of `timeframe`."""
    if override is not None:
        return override
    return TICKS_PER_BAR.get(Timeframe.parse(timeframe).value, DEFAULT_TICKS_PER_BAR)


def tick_times(opened_ns: int, bar_ns: int, n: int) -> npt.NDArray[np.int64]:
    """When each of a bar's n ticks prints: opened_ns + k * bar_ns // n (integer nanoseconds)."""
    return opened_ns + np.arange(n, dtype=np.int64) * bar_ns // n


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    """splitmix64's finaliser of x + golden ratio: a well-spread 64-bit hash of x."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _bar_state(seed: int, key: int, opened_ns: int) -> np.uint64:
    return _mix(_mix(_mix(np.uint64(seed)) ^ np.uint64(key)) ^ np.uint64(opened_ns))


@njit(cache=True, inline="always")
def _uniform(state: np.uint64, draw: int) -> float:
    """A uniform in [0, 1) on the 2**-53 grid: draw `draw` of the bar."""
    return float(_mix(state + np.uint64(draw) * _GOLDEN) >> _S11) * _UNIT


@njit(cache=True, inline="always")
def _step(state: np.uint64, draw: int) -> float:
    """A step of mean 0 and variance 1: the sum of the four 16-bit quarters of one hash
    (Irwin-Hall of 4 uniforms, each (q + 0.5) / 65536), centred and scaled by sqrt(3)."""
    z = _mix(state + np.uint64(draw) * _GOLDEN)
    quarters = (z & _MASK16) + ((z >> _S16) & _MASK16) + ((z >> _S32) & _MASK16) + (z >> _S48)
    return (float(quarters) - 131070.0) * _STEP_SCALE


@njit(cache=True)
def bar_ticks(
    seed: int,
    key: int,
    opened_ns: int,
    o: float,
    h: float,
    low: float,
    c: float,
    n: int,
    out: np.ndarray,
) -> None:
    """Write the bar's n ticks (module docstring) into out[:n]; n >= MIN_TICKS_PER_BAR."""
    if n < MIN_TICKS_PER_BAR:
        raise ValueError("a bar needs at least 4 ticks")
    state = _bar_state(seed, key, opened_ns)
    a = 1 + int(_uniform(state, _DRAW_FIRST_EXTREME) * (n - 2))
    b = 1 + int(_uniform(state, _DRAW_SECOND_EXTREME) * (n - 3))
    if b >= a:
        b += 1
    i1, i2 = min(a, b), max(a, b)
    if high_first(0, o, h, low, PATH_ADAPTIVE):
        first, second = h, low
    else:
        first, second = low, h
    # The random walk W into out (W_0 = 0): step k is draw _DRAW_STEPS + k - 1.
    out[0] = 0.0
    walk = 0.0
    for k in range(1, n):
        walk += _step(state, _DRAW_STEPS + k - 1)
        out[k] = walk
    sigma = SIGMA_FRACTION * (h - low) / math.sqrt(n)
    _bridge(out, 0, i1, o, first, sigma, low, h)
    _bridge(out, i1, i2, first, second, sigma, low, h)
    _bridge(out, i2, n - 1, second, c, sigma, low, h)
    out[0] = o
    out[i1] = first
    out[i2] = second
    out[n - 1] = c


@njit(cache=True, inline="always")
def _bridge(
    out: np.ndarray, i: int, j: int, a: float, b: float, sigma: float, low: float, h: float
) -> None:
    """Turn the walk in out[i+1..j-1] into the bridge from a at i to b at j, kept in
    [low, h]. Only interior ticks are written, so out[i] and out[j] still hold W_i and W_j."""
    w_i = out[i]
    rise = out[j] - w_i
    per_tick = 1.0 / (j - i)
    for k in range(i + 1, j):
        r = (k - i) * per_tick
        x = a + r * (b - a) + sigma * (out[k] - w_i - r * rise)
        if x < low:  # reflected back inside, then clipped: no flat runs at an extreme
            x = 2.0 * low - x
        elif x > h:
            x = 2.0 * h - x
        out[k] = min(max(x, low), h)


@njit(cache=True)
def _series(
    seed: int,
    key: int,
    opened_ns: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    low: np.ndarray,
    c: np.ndarray,
    n: int,
    out: np.ndarray,
) -> None:
    for bar in range(opened_ns.shape[0]):
        bar_ticks(seed, key, opened_ns[bar], o[bar], h[bar], low[bar], c[bar], n, out[bar])


def series_ticks(
    seed: int,
    symbol: str,
    opened_ns: npt.NDArray[np.int64],
    o: npt.NDArray[np.float64],
    h: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    c: npt.NDArray[np.float64],
    n: int,
) -> npt.NDArray[np.float64]:
    """The ticks of every bar of `symbol`: a float64 array [bar, n] (row b is `bar_ticks` of
    bar b). `seed` is the session's (0 <= seed < 2**53, what a kernel configuration holds)."""
    if n < MIN_TICKS_PER_BAR:
        raise ValueError(f"ticks per bar must be at least {MIN_TICKS_PER_BAR}")
    if not 0 <= seed < 2**53:
        raise ValueError("the tick seed must lie in [0, 2**53)")
    opened = np.ascontiguousarray(opened_ns, dtype=np.int64)
    po, ph, pl, pc = (np.ascontiguousarray(x, dtype=np.float64) for x in (o, h, low, c))
    if not len(po) == len(ph) == len(pl) == len(pc) == len(opened):
        raise ValueError("opened_ns, o, h, low and c must have one value per bar")
    out = np.empty((len(opened), n))
    _series(seed, symbol_key(symbol), opened, po, ph, pl, pc, n, out)
    return out


@njit(cache=True)
def walk_ticks(
    side: int,
    ticks: np.ndarray,
    stop_loss: float,
    take_profit: float,
    trail_kind: int,
    trail_value: float,
    trail_atr: float,
    extreme: float,
) -> tuple[int, float, float, int]:
    """Walk one bar's `ticks` for an open `side` position (+1 long, -1 short).

    `stop_loss` / `take_profit` are price levels (NaN: none); the trailing stop is
    `trail_value` (a fraction, or ATRs of `trail_atr`) behind `extreme`, the best price reached
    since entry. A level fires at the first tick at or beyond it and fills at that tick's price;
    a stop beats a take profit on the same tick. Returns (reason, price, extreme, tick index):
    reason 0, price NaN and index -1 when nothing fired; `extreme` updated by the ticks walked.
    """
    trailing = adverse_level(extreme, side, trail_kind, trail_value, trail_atr)
    stop, reason = _protective(side, stop_loss, trailing)
    for k in range(ticks.shape[0]):
        price = ticks[k]
        if side * price <= side * stop:
            return reason, price, extreme, k
        if side * price >= side * take_profit:
            return REASON_TAKE_PROFIT, price, extreme, k
        if side * price > side * extreme:
            extreme = price
            trailing = adverse_level(extreme, side, trail_kind, trail_value, trail_atr)
            stop, reason = _protective(side, stop_loss, trailing)
    return 0, np.nan, extreme, -1


@njit(cache=True)
def walk_bridge(
    seed: int,
    key: int,
    opened_ns: int,
    n: int,
    side: int,
    o: float,
    h: float,
    low: float,
    c: float,
    stop_loss: float,
    take_profit: float,
    trail_kind: int,
    trail_value: float,
    trail_atr: float,
    extreme: float,
) -> tuple[int, float, float]:
    """`walk_ticks` on the bar's `bar_ticks`: the `bridge` path model's `walk_bar`.

    Ticks are generated only when a level can fire: every tick lies in [lowest, highest] of
    (open, high, low, close) and the high and low are printed, so when the take profit lies
    beyond the best of them and the worst of them stays clear of the stop as the best tick
    would set it (the tightest it can get), nothing fires and the best price is that extreme.
    The answer is the one walking the ticks gives, without drawing them.
    """
    best = max(h, o, c) if side > 0 else min(low, o, c)
    worst = min(low, o, c) if side > 0 else max(h, o, c)
    final = best if side * best > side * extreme else extreme
    trailing = adverse_level(final, side, trail_kind, trail_value, trail_atr)
    stop, _ = _protective(side, stop_loss, trailing)
    if not side * best >= side * take_profit and not side * worst <= side * stop:
        return 0, np.nan, final
    ticks = np.empty(n)
    bar_ticks(seed, key, opened_ns, o, h, low, c, n, ticks)
    reason, price, extreme, _ = walk_ticks(
        side, ticks, stop_loss, take_profit, trail_kind, trail_value, trail_atr, extreme
    )
    return reason, price, extreme

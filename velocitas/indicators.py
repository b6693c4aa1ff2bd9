"""Technical indicators: one implementation for strategies, the engine (ATR stops) and features.

Every function takes float64 numpy arrays and returns arrays of the same length, NaN during
warm-up. Value at index t uses inputs up to t only (no look-ahead). Conventions follow the `ta`
library, which the tests use as an independent reference:

- EMA: recursive with alpha = 2 / (n + 1), seeded with the first value, first reported after n
  values (pandas `ewm(span=n, adjust=False, min_periods=n)`); leading NaNs are skipped.
- RSI and ATR use Wilder's smoothing (alpha = 1 / n); RSI is seeded with the first price change,
  ATR with the mean of the first n true ranges.
- Bollinger bands use the population standard deviation (ddof = 0).
- DMI/ADX is Wilder's: +DM, −DM and true range smoothed by Wilder's running sums seeded with the
  sum of the first n (from bar 1), ADX seeded with the mean of the first n DX values.

One known difference from `ta`: its RSI reads the missing change before bar 0 as a zero change,
so it starts at bar n − 1 from another seed; ours waits for n real changes (first value at bar
n, like TA-Lib). Wilder's recursion forgets its seed by a factor (1 − 1/n) per bar, so the two
converge geometrically: the tests require agreement to 1e-8 from bar 30·n on.

Every function is O(len(x)) whatever the window and allocates only its outputs (and a
window-sized buffer): on 1M bars a scratch array costs more in page faults than the arithmetic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from velocitas.jit import njit

F64 = npt.NDArray[np.float64]

__all__ = [
    "atr",
    "bollinger",
    "dmi",
    "donchian",
    "ema",
    "macd",
    "roc",
    "rolling_max",
    "rolling_min",
    "rsi",
    "sma",
    "true_range",
]


@njit(cache=True, nogil=True)
def sma(x: F64, n: int) -> F64:
    """Simple moving average over the last `n` values; NaN while the window holds a NaN.

    NaNs are kept out of the running sum, so an input with a NaN warm-up (a MACD line, say)
    gets an average once `n` real values follow it, as pandas' `rolling(n).mean()` does.
    """
    out = np.full(len(x), np.nan)
    if n < 1 or len(x) < n:
        return out
    total = 0.0
    missing = 0
    for i in range(len(x)):
        if np.isnan(x[i]):
            missing += 1
        else:
            total += x[i]
        if i >= n:
            if np.isnan(x[i - n]):
                missing -= 1
            else:
                total -= x[i - n]
        if i >= n - 1 and missing == 0:
            out[i] = total / n
    return out


@njit(cache=True, nogil=True)
def _ewm(x: F64, alpha: float, min_periods: int) -> F64:
    """Recursive exponential average, seeded with the first non-NaN value."""
    out = np.full(len(x), np.nan)
    value = np.nan
    seen = 0
    for i in range(len(x)):
        v = x[i]
        if np.isnan(v):
            if seen >= min_periods:
                out[i] = value
            continue
        value = v if seen == 0 else alpha * v + (1.0 - alpha) * value
        seen += 1
        if seen >= min_periods:
            out[i] = value
    return out


def ema(x: F64, n: int) -> F64:
    """Exponential moving average with span `n`."""
    return _ewm(np.asarray(x, dtype=np.float64), 2.0 / (n + 1.0), n)


@njit(cache=True, nogil=True)
def _rsi(close: F64, n: int) -> F64:
    # One loop, no temporaries: each 1M-bar scratch array costs page faults (milliseconds).
    m = len(close)
    out = np.full(m, np.nan)
    if n < 1:
        return out
    alpha = 1.0 / n
    avg_up = 0.0
    avg_down = 0.0
    for i in range(1, m):
        d = close[i] - close[i - 1]
        up = d if d > 0 else 0.0
        down = -d if d < 0 else 0.0
        if i == 1:
            avg_up = up
            avg_down = down
        else:
            avg_up = alpha * up + (1.0 - alpha) * avg_up
            avg_down = alpha * down + (1.0 - alpha) * avg_down
        if i >= n:
            out[i] = 100.0 if avg_down == 0.0 else 100.0 - 100.0 / (1.0 + avg_up / avg_down)
    return out


def rsi(close: F64, n: int = 14) -> F64:
    """Wilder's relative strength index, 0..100."""
    return _rsi(np.asarray(close, dtype=np.float64), n)


@njit(cache=True, nogil=True)
def _macd(close: F64, fast: int, slow: int, signal: int) -> tuple[F64, F64, F64]:
    # The arithmetic of ema(close, fast) - ema(close, slow) and ema(line, signal), in one loop.
    m = len(close)
    line = np.full(m, np.nan)
    signal_line = np.full(m, np.nan)
    hist = np.full(m, np.nan)
    alpha_fast = 2.0 / (fast + 1.0)
    alpha_slow = 2.0 / (slow + 1.0)
    alpha_signal = 2.0 / (signal + 1.0)
    ema_fast = np.nan
    ema_slow = np.nan
    smoothed = np.nan
    seen = 0
    lines = 0
    for i in range(m):
        x = close[i]
        if not np.isnan(x):
            if seen == 0:
                ema_fast = x
                ema_slow = x
            else:
                ema_fast = alpha_fast * x + (1.0 - alpha_fast) * ema_fast
                ema_slow = alpha_slow * x + (1.0 - alpha_slow) * ema_slow
            seen += 1
        if seen >= fast and seen >= slow:
            value = ema_fast - ema_slow
            line[i] = value
            if lines == 0:
                smoothed = value
            else:
                smoothed = alpha_signal * value + (1.0 - alpha_signal) * smoothed
            lines += 1
            if lines >= signal:
                signal_line[i] = smoothed
                hist[i] = value - smoothed
    return line, signal_line, hist


def macd(close: F64, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[F64, F64, F64]:
    """MACD line (EMA fast - EMA slow), its signal line (EMA of MACD) and the histogram."""
    return _macd(np.asarray(close, dtype=np.float64), fast, slow, signal)


@njit(cache=True, nogil=True)
def _bands(x: F64, n: int, k: float, mid: F64) -> tuple[F64, F64]:
    """mid ± k·σ over windows of `n`, σ from sums of deviations from an anchor value.

    The sums slide in O(1) per bar and are recomputed from the window every `n` bars with a
    fresh anchor (the current value), so they never drift and never cancel catastrophically
    (a plain Σx² − (Σx)²/n loses every digit on BTC-sized prices).
    """
    m = len(x)
    upper = np.full(m, np.nan)
    lower = np.full(m, np.nan)
    anchor = np.nan
    s1 = 0.0
    s2 = 0.0
    until_fresh = 0  # a countdown, not i % n: integer division would dominate the loop
    inv_n = 1.0 / n  # divisions are the slowest step left in the loop
    for i in range(n - 1, m):
        if np.isnan(mid[i]):
            anchor = np.nan  # a NaN in the window: start afresh once it has left
            continue
        until_fresh -= 1
        if np.isnan(anchor) or until_fresh <= 0:
            until_fresh = n
            anchor = x[i]
            s1 = 0.0
            s2 = 0.0
            for j in range(i - n + 1, i + 1):
                d = x[j] - anchor
                s1 += d
                s2 += d * d
        else:
            a = x[i] - anchor
            b = x[i - n] - anchor
            s1 += a - b
            s2 += a * a - b * b
        mean = s1 * inv_n
        sd = np.sqrt(max(s2 * inv_n - mean * mean, 0.0))
        upper[i] = mid[i] + k * sd
        lower[i] = mid[i] - k * sd
    return upper, lower


def bollinger(close: F64, n: int = 20, k: float = 2.0) -> tuple[F64, F64, F64]:
    """Bollinger bands: (middle SMA, upper = mid + k·σ, lower = mid − k·σ), σ with ddof 0."""
    close = np.asarray(close, dtype=np.float64)
    mid = sma(close, n)
    if n < 1:
        return mid, mid.copy(), mid.copy()
    upper, lower = _bands(close, n, float(k), mid)
    return mid, upper, lower


@njit(cache=True, nogil=True)
def true_range(high: F64, low: F64, close: F64) -> F64:
    """max(high − low, |high − previous close|, |low − previous close|); high − low at bar 0."""
    out = np.empty(len(high))
    for i in range(len(high)):
        r = high[i] - low[i]
        if i > 0:
            r = max(r, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        out[i] = r
    return out


@njit(cache=True, nogil=True)
def atr(high: F64, low: F64, close: F64, n: int = 14) -> F64:
    """Wilder's average true range, seeded with the mean of the first `n` true ranges."""
    m = len(high)
    out = np.full(m, np.nan)
    if n < 1 or m < n:
        return out
    # multiply rather than divide inside the recursion: the loop is latency-bound
    keep = (n - 1.0) / n
    add = 1.0 / n
    value = 0.0
    for i in range(m):
        r = high[i] - low[i]
        if i > 0:
            r = max(r, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i < n:
            value += r
            if i == n - 1:
                value /= n
                out[i] = value
        else:
            value = value * keep + r * add
            out[i] = value
    return out


@njit(cache=True, nogil=True)
def roc(close: F64, n: int = 10) -> F64:
    """Rate of change in percent: 100 · (close[t] − close[t−n]) / close[t−n]."""
    out = np.full(len(close), np.nan)
    for i in range(n, len(close)):
        out[i] = 100.0 * (close[i] - close[i - n]) / close[i - n]
    return out


@njit(cache=True, nogil=True)
def _rolling_extreme(x: F64, n: int, want_max: bool) -> F64:
    """Rolling max (or min) by van Herk / Gil-Werman: O(len(x)), branch-free inner loops.

    The bars are cut into blocks of `n`; a window ending at bar i is the suffix of the previous
    block (from i − n + 1) plus the prefix of the current one (up to i), so two running maxima
    give it. Windows holding a NaN are NaN, as in pandas' `rolling(n).max()`.
    """
    m = len(x)
    out = np.full(m, np.nan)
    if n < 1:
        return out
    sign = 1.0 if want_max else -1.0  # min(x) = −max(−x), exact
    suffix = np.empty(n)
    missing = 0
    for start in range(0, m, n):
        if start >= n:  # suffix maxima of the previous block
            best = -np.inf
            for j in range(start - 1, start - n - 1, -1):
                v = sign * x[j]
                best = v if v > best else best
                suffix[j - start + n] = best
        prefix = -np.inf
        for i in range(start, min(start + n, m)):
            v = sign * x[i]
            prefix = v if v > prefix else prefix
            if np.isnan(x[i]):
                missing += 1
            if i >= n and np.isnan(x[i - n]):
                missing -= 1
            if i >= n - 1 and missing == 0:
                first = i - n + 1
                if first < start:
                    tail = suffix[first - start + n]
                    out[i] = sign * (tail if tail > prefix else prefix)
                else:
                    out[i] = sign * prefix
    return out


def rolling_max(x: F64, n: int) -> F64:
    """Highest value of the last `n`, current included (NaN while the window holds a NaN)."""
    return _rolling_extreme(np.asarray(x, dtype=np.float64), n, True)


def rolling_min(x: F64, n: int) -> F64:
    """Lowest value of the last `n`, current included (NaN while the window holds a NaN)."""
    return _rolling_extreme(np.asarray(x, dtype=np.float64), n, False)


def donchian(high: F64, low: F64, n: int = 20) -> tuple[F64, F64]:
    """Donchian channel over the last `n` bars, current bar included: (highest high, lowest low)."""
    high = np.asarray(high, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    return _rolling_extreme(high, n, True), _rolling_extreme(low, n, False)


@njit(cache=True)
def _dmi(high: F64, low: F64, close: F64, n: int) -> tuple[F64, F64, F64]:
    m = len(high)
    plus_di = np.full(m, np.nan)
    minus_di = np.full(m, np.nan)
    adx_out = np.full(m, np.nan)
    if n < 1 or m <= n:
        return plus_di, minus_di, adx_out
    keep = (n - 1.0) / n
    tr_sum = 0.0
    plus_sum = 0.0
    minus_sum = 0.0
    adx_value = 0.0
    for i in range(1, m):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        plus_dm = up if up > down and up > 0.0 else 0.0
        minus_dm = down if down > up and down > 0.0 else 0.0
        tr = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i <= n:
            tr_sum += tr
            plus_sum += plus_dm
            minus_sum += minus_dm
            if i < n:
                continue
        else:
            tr_sum = tr_sum * keep + tr
            plus_sum = plus_sum * keep + plus_dm
            minus_sum = minus_sum * keep + minus_dm
        p = 100.0 * plus_sum / tr_sum if tr_sum > 0.0 else 0.0
        q = 100.0 * minus_sum / tr_sum if tr_sum > 0.0 else 0.0
        plus_di[i] = p
        minus_di[i] = q
        dx = 100.0 * abs(p - q) / (p + q) if p + q > 0.0 else 0.0
        if i < 2 * n - 1:
            adx_value += dx
        elif i == 2 * n - 1:
            adx_value = (adx_value + dx) / n
            adx_out[i] = adx_value
        else:
            adx_value = adx_value * keep + dx / n
            adx_out[i] = adx_value
    return plus_di, minus_di, adx_out


def dmi(high: F64, low: F64, close: F64, n: int = 14) -> tuple[F64, F64, F64]:
    """Wilder's directional movement: (+DI, −DI, ADX), each 0..100.

    +DI and −DI start at bar n, ADX (the smoothed |+DI − −DI| / (+DI + −DI)) at bar 2n − 1.
    """
    return _dmi(
        np.asarray(high, dtype=np.float64),
        np.asarray(low, dtype=np.float64),
        np.asarray(close, dtype=np.float64),
        n,
    )

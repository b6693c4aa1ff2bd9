"""Market regimes: at each bar, from bars up to that bar only, is the market trending up,
trending down, ranging or volatile, and how clearly.

Four well-known measures, all over the last `window` bars unless said otherwise:

- drift: the mean log return per bar (the slope of log price) and its t-statistic
  mean / (sd / sqrt(window)). The t of an OLS line through price *levels* is not used: on a
  random walk it is large by construction (spurious regression, Granger and Newbold 1974);
- ADX with +DI/-DI (Wilder, `adx_period`): how directional the moves are;
- volatility percentile: where log realised volatility stands against its own history, under
  a normal fit of its exponentially weighted mean and variance over `vol_lookback` bars
  (O(1) per bar where an exact rolling percentile would cost O(log lookback));
- variance ratio VR(q) (Lo and MacKinlay, 1988): Var(q-bar returns) / (q Var(1-bar returns));
  above 1 moves persist (trend), below 1 they revert (range); reported as evidence.

Classification, each decision a logistic score s(x) = 1 / (1 + e^-x) in (0, 1) with 0.5 at its
threshold; z is the standardised log volatility (vol_percentile = Phi(z)) and `typical` the
exponential of its mean: a volatile market is both high in its history and materially (by
`volatile_ratio`) above its usual level, so a market of steady volatility is never called
volatile for its noise alone:

    volatile = min(s(5 (z - Phi^-1(volatile_percentile))),
                   s(8 (ln(sd / typical) - ln(volatile_ratio))))
    trend    = min(s(2 (|t| - t_threshold)), s((ADX - adx_threshold) / 5))
    VOLATILE                     if volatile >= 0.5,   confidence = volatile
    TRENDING_UP / TRENDING_DOWN  elif trend >= 0.5,    confidence = min(trend, 1 - volatile)
    RANGING                      otherwise,            confidence = min(1 - trend, 1 - volatile)

The confidence is the clearness of the narrowest decision that led to the label, 0.5 at a
threshold and near 1 far from all of them; it is not a calibrated probability. Bars before
`warmup` bars have `Regime.UNKNOWN` and a NaN confidence.

One numba pass over the bars, each value computed from earlier bars only: cutting the data at
bar t gives bit-identical values up to t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from velocitas.errors import InvalidRequest
from velocitas.jit import njit

__all__ = [
    "SYNTH_LABELS",
    "TREND_SYNTH_LABELS",
    "Regime",
    "RegimeParams",
    "Regimes",
    "classify_regimes",
    "regime_labels",
]

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]


class Regime(IntEnum):
    """A bar's market regime; UNKNOWN during the warm-up."""

    UNKNOWN = -1
    RANGING = 0
    TRENDING_UP = 1
    TRENDING_DOWN = 2
    VOLATILE = 3

    @property
    def label(self) -> str:
        """The wire name: `trending_up`, `ranging`, ..."""
        return self.name.lower()


# What the regimes of `velocitas.synth` are, in these terms: REGIMES' calm uptrend, volatile
# selloff and quiet range, and TREND_REGIMES' four.
SYNTH_LABELS = (Regime.TRENDING_UP, Regime.VOLATILE, Regime.RANGING)
TREND_SYNTH_LABELS = (Regime.TRENDING_UP, Regime.TRENDING_DOWN, Regime.RANGING, Regime.VOLATILE)


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """Windows (in bars) and thresholds of the classifier."""

    window: int = 50
    adx_period: int = 14
    vol_lookback: int = 20_000
    variance_lag: int = 5
    t_threshold: float = 2.0
    adx_threshold: float = 20.0
    volatile_percentile: float = 0.7
    volatile_ratio: float = 1.3

    def __post_init__(self) -> None:
        for name in ("window", "adx_period", "vol_lookback", "variance_lag"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 2:
                raise InvalidRequest(f"{name} must be a whole number of at least 2", field=name)
        if self.variance_lag >= self.window:
            raise InvalidRequest("variance_lag must be below window", field="variance_lag")
        if not 0.0 < self.volatile_percentile < 1.0:
            raise InvalidRequest(
                "volatile_percentile must be between 0 and 1", field="volatile_percentile"
            )
        if not self.volatile_ratio >= 1.0:
            raise InvalidRequest("volatile_ratio must be at least 1", field="volatile_ratio")
        if not (self.t_threshold > 0 and self.adx_threshold > 0):
            raise InvalidRequest("thresholds must be positive", field="t_threshold")

    @property
    def warmup(self) -> int:
        """Bars before the first label: the measures' windows plus a window of vol history."""
        return max(2 * self.adx_period, self.window + 1) + self.window


@dataclass(frozen=True, slots=True)
class Regimes:
    """Per-bar labels (`Regime` values as int8), confidence, and the measures behind them."""

    labels: I8
    confidence: F64
    t_stat: F64
    drift: F64
    adx: F64
    plus_di: F64
    minus_di: F64
    vol_percentile: F64
    variance_ratio: F64


def classify_regimes(
    high: F64, low: F64, close: F64, params: RegimeParams | None = None
) -> Regimes:
    """Classify every bar from the bars up to it, keeping the measures (see the module doc)."""
    return _run(high, low, close, params or RegimeParams(), keep=True)


def regime_labels(
    high: F64, low: F64, close: F64, params: RegimeParams | None = None
) -> tuple[I8, F64]:
    """(labels, confidence) per bar: `classify_regimes` without storing the measures."""
    found = _run(high, low, close, params or RegimeParams(), keep=False)
    return found.labels, found.confidence


def _run(high: F64, low: F64, close: F64, p: RegimeParams, *, keep: bool) -> Regimes:
    high = np.ascontiguousarray(high, dtype=np.float64)
    low = np.ascontiguousarray(low, dtype=np.float64)
    close = np.ascontiguousarray(close, dtype=np.float64)
    if not len(high) == len(low) == len(close):
        raise InvalidRequest("high, low and close differ in length", field="close")
    if len(close) and not np.min(close) > 0:  # NaN too
        raise InvalidRequest("close prices must be positive numbers", field="close")
    out = _classify(
        high,
        low,
        close,
        np.log(close),
        p.window,
        p.adx_period,
        p.vol_lookback,
        p.variance_lag,
        p.t_threshold,
        p.adx_threshold,
        float(NormalDist().inv_cdf(p.volatile_percentile)),
        math.log(p.volatile_ratio),
        p.warmup,
        keep,
    )
    return Regimes(*out)


@njit(cache=True)
def _logistic(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def _classify(  # one fused pass: every measure in one loop
    high: F64,
    low: F64,
    close: F64,
    lc: F64,
    window: int,
    n: int,
    vol_lookback: int,
    lag: int,
    t_threshold: float,
    adx_threshold: float,
    volatile_z: float,
    volatile_log_ratio: float,
    warmup: int,
    keep: bool,
) -> tuple[I8, F64, F64, F64, F64, F64, F64, F64, F64]:
    m = len(close)
    k = m if keep else 0  # the measures cost a page fault per 512 bars each: only on request
    labels = np.full(m, -1, dtype=np.int8)
    confidence = np.full(m, np.nan)
    t_stat = np.full(k, np.nan)
    drift = np.full(k, np.nan)
    adx_out = np.full(k, np.nan)
    plus_out = np.full(k, np.nan)
    minus_out = np.full(k, np.nan)
    vol_pct = np.full(k, np.nan)
    vr = np.full(k, np.nan)
    # Wilder's DMI, as `indicators.dmi` computes it (a test holds the two equal)
    keep_wilder = (n - 1.0) / n
    tr_sum = 0.0
    plus_sum = 0.0
    minus_sum = 0.0
    adx = 0.0
    # sums over the window of 1-bar log returns r and r², and of lag-bar returns
    inv_w = 1.0 / window
    root_inv_w = math.sqrt(inv_w)
    s1 = 0.0
    s2 = 0.0
    q1 = 0.0
    q2 = 0.0
    until_fresh = 0
    alpha = 2.0 / (vol_lookback + 1.0)
    lv_mean = 0.0
    lv_var = 0.0
    lv_seen = 0
    sqrt_half = math.sqrt(0.5)
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
        else:
            tr_sum = tr_sum * keep_wilder + tr
            plus_sum = plus_sum * keep_wilder + plus_dm
            minus_sum = minus_sum * keep_wilder + minus_dm
        if i >= n:
            if keep:  # the same DX as below, by way of the DIs (bit for bit as `dmi`)
                pdi = 100.0 * plus_sum / tr_sum if tr_sum > 0.0 else 0.0
                mdi = 100.0 * minus_sum / tr_sum if tr_sum > 0.0 else 0.0
                dx = 100.0 * abs(pdi - mdi) / (pdi + mdi) if pdi + mdi > 0.0 else 0.0
                plus_out[i] = pdi
                minus_out[i] = mdi
            else:  # the true range cancels out of DX: one division instead of three
                total = plus_sum + minus_sum
                dx = 100.0 * abs(plus_sum - minus_sum) / total if total > 0.0 else 0.0
            if i < 2 * n - 1:
                adx += dx
            elif i == 2 * n - 1:
                adx = (adx + dx) / n
            else:
                adx = adx * keep_wilder + dx / n
            if keep and i >= 2 * n - 1:
                adx_out[i] = adx
        if i <= window:
            continue
        # Returns r_j = lc_j - lc_(j-1) for j in (i - window, i]; the sums are recomputed
        # every window bars so rounding never accumulates (and stays a function of the prefix).
        until_fresh -= 1
        if until_fresh <= 0:
            until_fresh = window
            s1 = 0.0
            s2 = 0.0
            q1 = 0.0
            q2 = 0.0
            for j in range(i - window + 1, i + 1):
                r = lc[j] - lc[j - 1]
                s1 += r
                s2 += r * r
                rq = lc[j] - lc[max(j - lag, 0)]
                q1 += rq
                q2 += rq * rq
        else:
            r_in = lc[i] - lc[i - 1]
            r_out = lc[i - window] - lc[i - window - 1]
            s1 += r_in - r_out
            s2 += r_in * r_in - r_out * r_out
            rq_in = lc[i] - lc[i - lag]
            rq_out = lc[i - window] - lc[max(i - window - lag, 0)]
            q1 += rq_in - rq_out
            q2 += rq_in * rq_in - rq_out * rq_out
        mean = s1 * inv_w
        var = max(s2 * inv_w - mean * mean, 0.0)
        t = mean / (math.sqrt(var) * root_inv_w) if var > 0.0 else 0.0
        # this window's log volatility against the (exponentially weighted) history before it
        lv = 0.5 * math.log(var) if var > 0.0 else -50.0
        delta = lv - lv_mean
        z = delta / math.sqrt(lv_var) if lv_seen >= 2 and lv_var > 0.0 else 0.0
        if lv_seen == 0:
            lv_mean = lv
        else:
            lv_mean += alpha * delta
            lv_var = (1.0 - alpha) * (lv_var + alpha * delta * delta)
        lv_seen += 1
        if keep:
            drift[i] = mean
            t_stat[i] = t
            vol_pct[i] = 0.5 * (1.0 + math.erf(z * sqrt_half))
            mean_q = q1 * inv_w
            var_q = max(q2 * inv_w - mean_q * mean_q, 0.0)
            vr[i] = var_q / (lag * var) if var > 0.0 else np.nan
        if i < warmup or i < 2 * n - 1:
            continue
        volatile = min(
            _logistic((z - volatile_z) * 5.0), _logistic(8.0 * (delta - volatile_log_ratio))
        )
        trend = min(_logistic((abs(t) - t_threshold) * 2.0), _logistic((adx - adx_threshold) / 5.0))
        if volatile >= 0.5:
            labels[i] = 3
            confidence[i] = volatile
        elif trend >= 0.5:
            labels[i] = 1 if mean > 0.0 else 2
            confidence[i] = min(trend, 1.0 - volatile)
        else:
            labels[i] = 0
            confidence[i] = min(1.0 - trend, 1.0 - volatile)
    return labels, confidence, t_stat, drift, adx_out, plus_out, minus_out, vol_pct, vr

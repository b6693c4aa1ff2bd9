"""Bars (and an optional sentiment series) -> the observation matrix shared by lab, oracle, worker.

One row per bar, one column per feature, float32. Row `t` uses bars `0..t` only (and the
sentiment known by the close of bar `t`): cutting the data anywhere leaves every earlier row
bit-identical, which `tests/velocitas/test_features.py` proves.

Columns, in order (`FeatureSpec.names`):

- `ret_0 … ret_{w-1}`: the last `w` one-bar log returns (`ret_0` is the bar just closed), each
  divided by the population standard deviation of the `volatility_window` log returns ending at
  that bar, then clipped to ±`clip`. Scale-free: the same policy sees BTC and a penny stock alike.
- `rsi`: Wilder RSI mapped from 0..100 to −1..+1.
- `macd`, `macd_hist`: the MACD line and histogram divided by the close (so a fraction of price),
  times `macd_scale`, clipped.
- `volume_z`: z-score of log(1 + volume) over `volume_window` bars (the log tames volume's
  heavy tail), clipped.
- `sentiment`: the news sentiment score in −1..+1 known at the bar's close; 0 when absent.

Rows before `FeatureSpec.warmup` are incomplete (indicators still warming up); their undefined
values are 0. The environment starts episodes at or after the warm-up.

The position (the side targeted) is not a bar feature: the agent contract appends it to a row
(`velocitas.agent.contract.observations`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from velocitas.indicators import macd, rsi
from velocitas.jit import njit

__all__ = [
    "FEATURE_SPEC_VERSION",
    "BarsLike",
    "FeatureSpec",
    "align_sentiment",
    "build_features",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FEATURE_SPEC_VERSION = 1
"""Bumped whenever a formula changes, so old bundles hash differently from new code."""


class BarsLike(Protocol):
    """What `build_features` reads: any object with float64 OHLCV columns (e.g. `BarArrays`)."""

    @property
    def close(self) -> F64: ...

    @property
    def volume(self) -> F64: ...


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """The declared recipe of the observation: window sizes and normalisation constants.

    Two bundles trained on specs with different `spec_hash()` cannot share a policy; the oracle
    refuses a mismatch. `from_dict(spec.to_dict())` round-trips exactly.
    """

    return_window: int = 16
    volatility_window: int = 64
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    macd_scale: float = 100.0
    volume_window: int = 64
    clip: float = 5.0
    version: int = field(default=FEATURE_SPEC_VERSION)

    def __post_init__(self) -> None:
        for name in ("return_window", "volatility_window", "rsi_period", "volume_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"FeatureSpec.{name} must be >= 1, got {getattr(self, name)}")
        if self.volatility_window < 2 or self.volume_window < 2:
            raise ValueError("FeatureSpec windows for standard deviations must be >= 2")
        if not 1 <= self.macd_fast < self.macd_slow or self.macd_signal < 1:
            raise ValueError("FeatureSpec needs 1 <= macd_fast < macd_slow and macd_signal >= 1")
        if self.clip <= 0 or self.macd_scale <= 0:
            raise ValueError("FeatureSpec.clip and macd_scale must be positive")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in the order of `build_features`' columns."""
        returns = tuple(f"ret_{k}" for k in range(self.return_window))
        return (*returns, "rsi", "macd", "macd_hist", "volume_z", "sentiment")

    @property
    def n_features(self) -> int:
        return self.return_window + 5

    @property
    def warmup(self) -> int:
        """Index of the first row whose every column is fully defined."""
        returns = self.volatility_window + self.return_window - 1
        macd_first = self.macd_slow + self.macd_signal - 2
        return max(returns, macd_first, self.rsi_period, self.volume_window - 1)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON types, names included (for bundles and the registry)."""
        return {**asdict(self), "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        values = {k: v for k, v in data.items() if k != "names"}
        spec = cls(**values)
        if "names" in data and list(data["names"]) != list(spec.names):
            raise ValueError("FeatureSpec names do not match the parameters they came with")
        return spec

    def spec_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of `to_dict()`: stable across processes."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def build_features(
    bars: BarsLike, spec: FeatureSpec | None = None, sentiment: F64 | None = None
) -> F32:
    """The observation matrix, shape (len(bars), spec.n_features), float32, finite everywhere.

    `sentiment`, when given, is aligned to the bars (one value per bar: the score known at that
    bar's close, NaN where none is known; see `align_sentiment`).
    """
    spec = spec or FeatureSpec()
    close = np.ascontiguousarray(bars.close, dtype=np.float64)
    volume = np.ascontiguousarray(bars.volume, dtype=np.float64)
    n = len(close)
    if sentiment is None:
        sentiment = np.zeros(n)
    sentiment = np.ascontiguousarray(sentiment, dtype=np.float64)
    if len(sentiment) != n:
        raise ValueError(f"sentiment has {len(sentiment)} values for {n} bars")
    rsi_values = rsi(close, spec.rsi_period)
    macd_line, _, macd_hist = macd(close, spec.macd_fast, spec.macd_slow, spec.macd_signal)
    out = np.empty((n, spec.n_features), dtype=np.float32)
    _fill(
        out,
        close,
        volume,
        rsi_values,
        macd_line,
        macd_hist,
        sentiment,
        spec.return_window,
        spec.volatility_window,
        spec.volume_window,
        spec.macd_scale,
        spec.clip,
    )
    return out


def align_sentiment(bar_closed_at_ns: I64, scored_at_ns: I64, scores: F64) -> F64:
    """Per bar, the latest score with `scored_at <= bar close` (NaN before the first score).

    `scored_at_ns` must be sorted ascending. A score stamped exactly at a bar's close counts for
    that bar; one stamped a nanosecond later waits for the next bar.
    """
    scored_at_ns = np.asarray(scored_at_ns, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if len(scored_at_ns) != len(scores):
        raise ValueError("scored_at_ns and scores differ in length")
    if len(scored_at_ns) > 1 and np.any(np.diff(scored_at_ns) < 0):
        raise ValueError("scored_at_ns must be sorted ascending")
    idx = np.searchsorted(scored_at_ns, np.asarray(bar_closed_at_ns, dtype=np.int64), "right") - 1
    out = np.full(len(idx), np.nan)
    known = idx >= 0
    out[known] = scores[idx[known]]
    return out


@njit(cache=True)
def _clip(x: float, bound: float) -> float:
    if x > bound:
        return bound
    if x < -bound:
        return -bound
    return x


_RESUM_EVERY = 4096
"""Rolling sums are recomputed from scratch at every index divisible by this, so rounding error
never accumulates over a long series; the schedule depends on the index only, so cutting the data
changes nothing before the cut."""


@njit(cache=True)
def _rolling_mean_std(x: F64, first: int, window: int) -> tuple[F64, F64]:
    """Rolling mean and population standard deviation of x over `window` values ending at each
    index; NaN until index `first + window - 1` (x is defined from index `first` on).

    Sums are shifted by a reference value taken at each recomputation, which keeps the
    sum-of-squares variance accurate when the mean is large against the spread (log volume)."""
    n = len(x)
    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    ref = 0.0
    s1 = 0.0
    s2 = 0.0
    for i in range(first + window - 1, n):
        if i == first + window - 1 or i % _RESUM_EVERY == 0:
            ref = x[i]
            s1 = 0.0
            s2 = 0.0
            for j in range(i - window + 1, i + 1):
                d = x[j] - ref
                s1 += d
                s2 += d * d
        else:
            d_in = x[i] - ref
            d_out = x[i - window] - ref
            s1 += d_in - d_out
            s2 += d_in * d_in - d_out * d_out
        m = s1 / window
        var = s2 / window - m * m
        mean[i] = ref + m
        std[i] = np.sqrt(var) if var > 0.0 else 0.0
    return mean, std


@njit(cache=True)
def _fill(
    out: npt.NDArray[np.float32],
    close: F64,
    volume: F64,
    rsi_values: F64,
    macd_line: F64,
    macd_hist: F64,
    sentiment: F64,
    return_window: int,
    volatility_window: int,
    volume_window: int,
    macd_scale: float,
    clip: float,
) -> None:
    n = len(close)
    log_ret = np.zeros(n)
    for i in range(1, n):
        log_ret[i] = np.log(close[i] / close[i - 1])
    _, ret_std = _rolling_mean_std(log_ret, 1, volatility_window)
    scaled = np.zeros(n)  # log return / rolling volatility; 0 until the window is full
    for i in range(volatility_window, n):
        sigma = ret_std[i]
        # A flat window (sigma ~ 0 up to rounding) carries no information: report 0, not noise.
        scaled[i] = _clip(log_ret[i] / sigma, clip) if sigma > 1e-12 else 0.0
    vol_mean, vol_std = _rolling_mean_std(np.log1p(volume), 0, volume_window)
    base = return_window
    for i in range(n):
        for k in range(return_window):
            out[i, k] = scaled[i - k] if i - k >= 0 else 0.0
        r = rsi_values[i]
        out[i, base] = 0.0 if np.isnan(r) else (r - 50.0) / 50.0
        m = macd_line[i]
        out[i, base + 1] = 0.0 if np.isnan(m) else _clip(m / close[i] * macd_scale, clip)
        h = macd_hist[i]
        out[i, base + 2] = 0.0 if np.isnan(h) else _clip(h / close[i] * macd_scale, clip)
        sigma = vol_std[i]
        z = 0.0
        if not np.isnan(sigma) and sigma > 1e-12:
            z = _clip((np.log1p(volume[i]) - vol_mean[i]) / sigma, clip)
        out[i, base + 3] = z
        s = sentiment[i]
        out[i, base + 4] = 0.0 if np.isnan(s) else _clip(s, 1.0)

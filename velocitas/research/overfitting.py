"""Overfitting controls as pure functions: the deflated Sharpe ratio and the probability of
backtest overfitting by combinatorially symmetric cross-validation.

Deflated Sharpe ratio (Bailey and Lopez de Prado, 2014, "The Deflated Sharpe Ratio: Correcting
for Selection Bias, Backtest Overfitting and Non-Normality"): the probability that a strategy's
true Sharpe ratio exceeds the best Sharpe ratio that `trials` skill-less trials would show by
luck, given how long the track record is and how skewed and fat-tailed its returns are::

    SR0 = sqrt(V) * ((1 - g) * Z(1 - 1/N) + g * Z(1 - 1/(N e)))       g: Euler-Mascheroni
    DSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2))

with SR the per-period Sharpe ratio of T returns, V the variance of the trials' Sharpe ratios,
N the number of trials, Z the standard normal quantile and Phi its distribution function.

Probability of backtest overfitting (Bailey, Borwein, Lopez de Prado and Zhu, 2015, "The
Probability of Backtest Overfitting"): cut the trials' returns (a T x N matrix) into S blocks
of rows; for each of the C(S, S/2) ways to call half the blocks in-sample, pick the trial with
the best in-sample Sharpe ratio and find its relative rank w in (0, 1) among all trials on the
other half; PBO is the share of splits where the logit ln(w / (1 - w)) is <= 0, i.e. where the
in-sample winner does no better than the out-of-sample median.

Sharpe ratios here are per period (per bar), not annualised; moments are population moments
(divided by T). The blocks are summarised by their count, sum and sum of squares per trial
(`BlockStats`), so trials need not share rows: a block is a span of time.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = [
    "EULER_GAMMA",
    "BlockStats",
    "DeflatedSharpe",
    "Overfitting",
    "ReturnMoments",
    "block_stats",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "return_moments",
]

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class ReturnMoments:
    """What the deflated Sharpe ratio needs of one return series: the per-period Sharpe ratio
    (mean / standard deviation), skewness, kurtosis (3 for a normal law, not excess) and the
    number of returns."""

    sharpe: float
    skew: float
    kurtosis: float
    observations: int


def return_moments(returns: npt.ArrayLike) -> ReturnMoments:
    """The moments of `returns` (NaN dropped). A constant series has Sharpe 0, skew 0 and
    kurtosis 3 (nothing to deflate)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = len(r)
    if n == 0:
        return ReturnMoments(0.0, 0.0, 3.0, 0)
    deviation = r - r.mean()
    m2 = float(np.mean(deviation**2))
    if m2 <= 0.0 or not math.isfinite(m2):
        return ReturnMoments(0.0, 0.0, 3.0, n)
    std = math.sqrt(m2)
    return ReturnMoments(
        sharpe=float(r.mean()) / std,
        skew=float(np.mean(deviation**3)) / m2**1.5,
        kurtosis=float(np.mean(deviation**4)) / m2**2,
        observations=n,
    )


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, observations: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """P(true Sharpe > `benchmark`) given an observed per-period `sharpe` over `observations`
    returns with this `skew` and `kurtosis` (Bailey and Lopez de Prado, 2012)."""
    if observations < 2:
        return math.nan
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if spread <= 0.0:
        return math.nan  # moments that contradict each other (a handful of returns)
    z = (sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread)
    return _NORMAL.cdf(z)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0: the expected largest Sharpe ratio among `trials` skill-less trials whose Sharpe
    ratios vary with `variance` (0 for one trial: nothing was selected)."""
    if trials < 1:
        raise ValueError("trials must be at least 1")
    if trials == 1 or variance <= 0.0:
        return 0.0
    quantiles = (
        (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / trials)
        + EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    )  # fmt: skip
    return math.sqrt(variance) * quantiles


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """A deflated Sharpe ratio with its inputs: `value` is P(true Sharpe > `expected_max`)."""

    value: float
    sharpe: float
    expected_max: float
    trials: int
    skew: float
    kurtosis: float
    observations: int

    def passes(self, threshold: float = 0.95) -> bool:
        return math.isfinite(self.value) and self.value >= threshold


def deflated_sharpe_ratio(
    moments: ReturnMoments, *, trials: int, trials_variance: float
) -> DeflatedSharpe:
    """The deflated Sharpe ratio of the series summarised by `moments`, selected as the best of
    `trials` trials whose per-period Sharpe ratios have variance `trials_variance`."""
    sr0 = expected_max_sharpe(trials, trials_variance)
    value = probabilistic_sharpe_ratio(
        moments.sharpe, sr0, moments.observations, moments.skew, moments.kurtosis
    )
    return DeflatedSharpe(
        value, moments.sharpe, sr0, trials, moments.skew, moments.kurtosis, moments.observations
    )


@dataclass(frozen=True, slots=True)
class BlockStats:
    """Trials' returns summarised per block of time: `count`, `total` and `squares` are S x N
    (blocks x trials): how many returns, their sum and the sum of their squares."""

    count: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    squares: npt.NDArray[np.float64]

    @classmethod
    def stack(cls, columns: list[BlockStats]) -> BlockStats:
        """Trials side by side (each S x 1 or S x n)."""
        return cls(
            np.hstack([c.count for c in columns]),
            np.hstack([c.total for c in columns]),
            np.hstack([c.squares for c in columns]),
        )


def block_stats(returns: npt.ArrayLike, blocks: int) -> BlockStats:
    """A T x N return matrix cut into `blocks` consecutive blocks of rows (as equal as T
    allows), summarised. NaN returns count as absent."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    present = np.isfinite(r)
    r = np.where(present, r, 0.0)
    parts = np.array_split(np.arange(len(r)), blocks)
    return BlockStats(
        np.array([present[p].sum(axis=0) for p in parts], dtype=np.float64),
        np.array([r[p].sum(axis=0) for p in parts]),
        np.array([(r[p] ** 2).sum(axis=0) for p in parts]),
    )


@dataclass(frozen=True, slots=True)
class Overfitting:
    """The CSCV verdict: `pbo` (share of splits whose logit is <= 0), every split's `logits`
    (in the order of `itertools.combinations(range(blocks), blocks // 2)`), and the trials
    and blocks it saw."""

    pbo: float
    logits: npt.NDArray[np.float64]
    trials: int
    blocks: int

    @property
    def splits(self) -> int:
        return len(self.logits)

    @property
    def median_logit(self) -> float:
        return float(np.median(self.logits))


def _sharpe(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    # Per-trial Sharpe of pooled blocks: mean / population std; 0 where nothing varies.
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        variance = squares / count - mean**2
        sharpe = mean / np.sqrt(variance)
    ok = (count > 1) & (variance > 1e-300)
    return np.where(ok, sharpe, 0.0)


def _relative_rank(values: np.ndarray, chosen: int) -> float:
    # Rank of values[chosen] among all, ascending, 1..N (ties share their average), over N + 1.
    below = float(np.sum(values < values[chosen]))
    ties = float(np.sum(values == values[chosen]))  # counts the chosen one itself
    return (below + (ties + 1.0) / 2.0) / (len(values) + 1.0)


def probability_of_backtest_overfitting(stats: BlockStats) -> Overfitting:
    """PBO by CSCV over `stats` (S x N, S even and at least 2, N at least 2 trials). The
    in-sample winner of a split is the first trial with the highest Sharpe ratio."""
    blocks, trials = stats.count.shape
    if blocks < 2 or blocks % 2:
        raise ValueError(f"CSCV needs an even number of blocks, at least 2; got {blocks}")
    if trials < 2:
        raise ValueError("CSCV needs at least 2 trials")
    all_blocks = set(range(blocks))
    logits = []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        rows = list(chosen)
        rest = sorted(all_blocks - set(chosen))
        in_sample = _sharpe(
            *(a[rows].sum(axis=0) for a in (stats.count, stats.total, stats.squares))
        )
        out_sample = _sharpe(
            *(a[rest].sum(axis=0) for a in (stats.count, stats.total, stats.squares))
        )
        winner = int(np.argmax(in_sample))
        w = _relative_rank(out_sample, winner)
        logits.append(math.log(w / (1.0 - w)))
    values = np.asarray(logits)
    return Overfitting(float(np.mean(values <= 0.0)), values, trials, blocks)

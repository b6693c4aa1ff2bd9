"""Deflated Sharpe ratio and PBO by CSCV: hand-computed small cases, the paper's example, pure
noise (overfit, nothing passes) and a planted edge (found, not overfit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from velocitas.research.overfitting import (
    BlockStats,
    ReturnMoments,
    block_stats,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    return_moments,
)


def test_return_moments_of_a_hand_computed_series() -> None:
    # mean 0.01, every deviation is +-0.01: std 0.01, Sharpe 1, skew 0, kurtosis 1.
    moments = return_moments([0.02, 0.0, 0.0, 0.02])
    assert moments.sharpe == pytest.approx(1.0)
    assert moments.skew == pytest.approx(0.0, abs=1e-12)
    assert moments.kurtosis == pytest.approx(1.0)
    assert moments.observations == 4


def test_return_moments_skew_and_kurtosis_by_hand() -> None:
    # [0, 0, 0, 4]: mean 1, deviations -1,-1,-1,3; m2 = 12/4 = 3, m3 = 24/4 = 6, m4 = 84/4 = 21.
    moments = return_moments([0.0, 0.0, 0.0, 4.0])
    assert moments.sharpe == pytest.approx(1 / math.sqrt(3))
    assert moments.skew == pytest.approx(6 / 3**1.5)
    assert moments.kurtosis == pytest.approx(21 / 9)


def test_return_moments_of_a_flat_series_is_zero() -> None:
    assert return_moments([0.0, 0.0, 0.0]) == ReturnMoments(0.0, 0.0, 3.0, 3)


def test_probabilistic_sharpe_ratio_by_hand() -> None:
    # SR 1 over 4 returns, skew 0, kurtosis 1: z = 1 * sqrt(3) / sqrt(1 + 0) = 1.7320508.
    assert probabilistic_sharpe_ratio(1.0, 0.0, 4, 0.0, 1.0) == pytest.approx(0.9583677, abs=1e-6)
    # Against its own benchmark the odds are even.
    assert probabilistic_sharpe_ratio(0.3, 0.3, 100, -1.0, 6.0) == pytest.approx(0.5)


def test_expected_max_sharpe_for_two_trials_by_hand() -> None:
    # Z(1 - 1/2) = 0; Z(1 - 1/(2e)) = Z(0.8160603) = 0.9004; SR0 = sqrt(V) * gamma * 0.9004.
    assert expected_max_sharpe(2, 0.04) == pytest.approx(0.2 * 0.5772157 * 0.900472, rel=1e-4)
    assert expected_max_sharpe(1, 0.04) == 0.0  # nothing selected, nothing to deflate


def test_deflated_sharpe_ratio_matches_the_papers_example() -> None:
    # Bailey and Lopez de Prado (2014), section 4: 100 trials, variance of their annualised
    # Sharpe ratios 1/2, best annualised SR 2.5 over 1250 daily returns, skew -3, kurtosis 10:
    # SR0 = 0.1132 per day and DSR = 0.9004.
    moments = ReturnMoments(
        sharpe=2.5 / math.sqrt(250), skew=-3.0, kurtosis=10.0, observations=1250
    )
    dsr = deflated_sharpe_ratio(moments, trials=100, trials_variance=0.5 / 250)
    assert dsr.expected_max == pytest.approx(0.1132, abs=1e-4)
    assert dsr.value == pytest.approx(0.9004, abs=1e-4)
    assert not dsr.passes(0.95)
    assert dsr.passes(0.9)


def _hand_matrix() -> np.ndarray:
    # Four blocks of two rows. A wins blocks 0-1 and loses 2-3, B the reverse; C earns a little
    # everywhere. Halves {0,1} and {2,3} pick A (resp. B), which is then worst out of sample;
    # the four mixed halves leave A and B at Sharpe 0 and pick C, best out of sample too.
    up, down, small = [0.03, 0.01], [-0.01, -0.03], [0.011, -0.009]
    a = up + up + down + down
    b = down + down + up + up
    c = small * 4
    return np.array([a, b, c]).T


def test_pbo_of_a_hand_computed_case() -> None:
    result = probability_of_backtest_overfitting(block_stats(_hand_matrix(), 4))
    assert result.splits == 6
    assert result.pbo == pytest.approx(2 / 6)
    # Splits in combinations order: {0,1} {0,2} {0,3} {1,2} {1,3} {2,3}; ranks 1/4 or 3/4.
    third = math.log(1 / 3)
    expected = [third, -third, -third, -third, -third, third]
    assert result.logits.tolist() == pytest.approx(expected)


def test_block_stats_summarise_each_block() -> None:
    stats = block_stats(np.array([1.0, 2.0, 3.0, np.nan]), 2)
    assert stats.count[:, 0].tolist() == [2, 1]
    assert stats.total[:, 0].tolist() == [3, 3]
    assert stats.squares[:, 0].tolist() == [5, 9]
    both = BlockStats.stack([stats, stats])
    assert both.total.shape == (2, 2)


def test_pbo_refuses_an_odd_number_of_blocks_or_a_single_trial() -> None:
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(block_stats(np.zeros((9, 2)), 3))
    with pytest.raises(ValueError, match="2 trials"):
        probability_of_backtest_overfitting(block_stats(np.zeros((8, 1)), 4))


def test_pure_noise_is_overfit_and_nothing_passes_the_deflated_sharpe() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0, 0.01, size=(2000, 40))  # 40 skill-less trials
    result = probability_of_backtest_overfitting(block_stats(returns, 10))
    assert result.pbo > 0.3
    sharpes = [return_moments(returns[:, n]).sharpe for n in range(40)]
    variance = float(np.var(sharpes, ddof=1))
    best = int(np.argmax(sharpes))
    dsr = deflated_sharpe_ratio(
        return_moments(returns[:, best]), trials=40, trials_variance=variance
    )
    assert dsr.sharpe > 0  # the luckiest trial looks good in sample...
    assert not dsr.passes(0.95)  # ...but not once deflated for the 40 tries


def test_a_planted_edge_is_not_overfit_and_passes_the_deflated_sharpe() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0, 0.01, size=(2000, 40))
    returns[:, 17] += 0.002  # per-period Sharpe about 0.2
    result = probability_of_backtest_overfitting(block_stats(returns, 10))
    assert result.pbo < 0.1
    sharpes = [return_moments(returns[:, n]).sharpe for n in range(40)]
    assert int(np.argmax(sharpes)) == 17
    variance = float(np.var(sharpes, ddof=1))
    dsr = deflated_sharpe_ratio(return_moments(returns[:, 17]), trials=40, trials_variance=variance)
    assert dsr.passes(0.95)

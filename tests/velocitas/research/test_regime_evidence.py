"""Tournament evidence by regime: power sums per regime, moments from them, pooled ranking."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas.research.overfitting import return_moments
from velocitas.research.regime_evidence import moments_from_sums, rank_by_regime, regime_sums
from velocitas.research.regimes import Regime


def test_regime_sums_file_each_return_under_its_label() -> None:
    up, ranging, unknown = Regime.TRENDING_UP, Regime.RANGING, Regime.UNKNOWN
    sums = regime_sums([0.1, 0.2, -0.1, 0.5, np.nan], [up, up, ranging, unknown, up])
    assert sums["trending_up"] == pytest.approx([2, 0.3, 0.05, 0.009, 0.0017])
    assert sums["ranging"] == pytest.approx([1, -0.1, 0.01, -0.001, 0.0001])
    assert set(sums) == {"trending_up", "ranging"}  # the warm-up's bar is left out


def test_moments_from_sums_equal_the_moments_of_the_returns() -> None:
    r = np.random.default_rng(3).standard_t(4, 500) * 0.01 + 0.001
    expected = return_moments(r)
    got = moments_from_sums([len(r), *(float(np.sum(r**k)) for k in (1, 2, 3, 4))])
    assert got.sharpe == pytest.approx(expected.sharpe)
    assert got.skew == pytest.approx(expected.skew, rel=1e-6)
    assert got.kurtosis == pytest.approx(expected.kurtosis, rel=1e-6)
    assert got.observations == 500


def test_rank_by_regime_pools_a_strategys_markets() -> None:
    def entry(strategy: str, symbol: str, returns: list[float]) -> dict[str, object]:
        labels = [Regime.VOLATILE] * len(returns)
        return {"strategy": strategy, "symbol": symbol, "timeframe": "1h",
                "regimes": regime_sums(returns, labels)}  # fmt: skip

    ranked = rank_by_regime(
        [entry("a", "X", [0.01, 0.0] * 50), entry("a", "Y", [0.01, 0.0] * 50),
         entry("b", "X", [0.01, -0.01] * 50)],
        trials=3, threshold=0.95,
    )  # fmt: skip
    rows = ranked["volatile"]
    assert [(r["rank"], r["strategy"], r["bars"]) for r in rows] == [(1, "a", 200), (2, "b", 100)]
    assert rows[0]["markets"] == ["X 1h", "Y 1h"]
    assert rows[0]["mean_return"] == pytest.approx(0.005)
    assert rows[0]["sharpe_per_bar"] == pytest.approx(1.0)
    assert rows[0]["passes"]
    assert not rows[1]["passes"]  # mean 0: no edge

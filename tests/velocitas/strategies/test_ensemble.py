"""Ensemble vote arithmetic, with scripted members whose sides are given outright."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import Field

from tests.velocitas.strategies.conftest import MakeBars
from velocitas.errors import InvalidRequest
from velocitas.strategies import I8, Bars, Strategy, StrategyParams, registry
from velocitas.strategies.ensemble import Ensemble


class Scripted(Strategy):
    """Returns `pattern` as its sides (test double for a member with known signals)."""

    name = "scripted"
    description = "Replays a fixed pattern of sides."

    class Params(StrategyParams):
        pattern: list[int] = Field(default_factory=list)

    params: Params

    def signals(self, bars: Bars) -> I8:
        return np.array(self.params.pattern, dtype=np.int8)


@pytest.fixture(autouse=True)
def scripted() -> Iterator[None]:
    registry.register(Scripted)
    try:
        yield
    finally:
        registry.unregister("scripted")


A = [1, 1, -1, 0, 1]
B = [1, -1, -1, 0, 0]
C = [1, 0, 1, -1, -1]
# weights 2, 1, 1 (Σ|w| = 4): votes 4, 1, −2, −1, 1


def _ensemble(threshold: float, allow_short: bool = False, weights: Any = (2, 1, 1)) -> Ensemble:
    members = [
        {"name": "scripted", "params": {"pattern": p}, "weight": w}
        for p, w in zip((A, B, C), weights, strict=True)
    ]
    params = {"members": members, "threshold": threshold, "allow_short": allow_short}
    strategy = registry.build("ensemble", params)
    assert isinstance(strategy, Ensemble)
    return strategy


def test_ensemble_votes_are_weighted_sums(make_bars: MakeBars) -> None:
    assert _ensemble(0.5).votes(make_bars([1.0] * 5)).tolist() == [4, 1, -2, -1, 1]


@pytest.mark.parametrize(
    ("threshold", "allow_short", "expected"),
    [
        (0.5, True, [1, 0, -1, 0, 0]),  # |vote| >= 2
        (0.5, False, [1, 0, 0, 0, 0]),
        (0.0, True, [1, 1, -1, -1, 1]),  # any non-zero vote
        (0.0, False, [1, 1, 0, 0, 1]),
        (1.0, True, [1, 0, 0, 0, 0]),  # unanimity: |vote| = 4
        (0.25, True, [1, 1, -1, -1, 1]),  # |vote| >= 1
    ],
)
def test_ensemble_threshold(
    make_bars: MakeBars, threshold: float, allow_short: bool, expected: list[int]
) -> None:
    side = _ensemble(threshold, allow_short).signals(make_bars([1.0] * 5))
    assert side.dtype == np.int8
    assert side.tolist() == expected


def test_ensemble_negative_weight_is_contrarian(make_bars: MakeBars) -> None:
    # −2·A + B + C: −2+1+1, −2−1+0, 2−1+1, 0+0−1, −2+0−1 = 0, −3, 2, −1, −3; needs 2
    side = _ensemble(0.5, True, weights=(-2, 1, 1)).signals(make_bars([1.0] * 5))
    assert side.tolist() == [0, -1, 1, 0, -1]


def test_ensemble_unanimity_survives_rounding(make_bars: MakeBars) -> None:
    # 0.1 + 0.2 + 0.3 in floating point is 0.6000000000000001; unanimity must still pass.
    side = _ensemble(1.0, weights=(0.1, 0.2, 0.3)).signals(make_bars([1.0] * 5))
    assert side.tolist()[0] == 1


def test_ensemble_zero_weight_member_is_ignored(make_bars: MakeBars) -> None:
    side = _ensemble(1.0, True, weights=(1, 0, 0)).signals(make_bars([1.0] * 5))
    assert side.tolist() == A


@pytest.mark.parametrize(
    ("members", "field"),
    [
        ([{"name": "nope"}], "strategy.params.members.0.name"),
        (
            [{"name": "sma_cross"}, {"name": "sma_cross", "params": {"fast": 60}}],
            "strategy.params.members.1.params.slow",
        ),
        ([{"name": "sma_cross", "params": {"speed": 3}}], "strategy.params.members.0.params.speed"),
        (
            [{"name": "ensemble", "params": {"members": [{"name": "sma_cross"}]}}],
            "strategy.params.members.0.name",
        ),
        ([{"name": "sma_cross", "weight": 0}], "strategy.params"),
        ([{"name": "sma_cross", "weight": 1e6}], "strategy.params.members.0.weight"),
        ([], "strategy.params.members"),
    ],
)
def test_ensemble_bad_members_name_the_field(members: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        registry.build("ensemble", {"members": members})
    assert info.value.field == field

"""velocitas.agent.contract: observation layout, actions to sides, VecNormalize's transform."""

from __future__ import annotations

import numpy as np
import pytest

from velocitas.agent.contract import (
    BOX_DEADBAND,
    BUY,
    HOLD,
    POSITION,
    SELL,
    SIDES,
    ObservationNormalization,
    observations,
    target_side,
    target_sides,
)


def _normalization(n: int = 4) -> ObservationNormalization:
    rng = np.random.default_rng(0)
    return ObservationNormalization.from_document(
        {
            "mean": rng.normal(0, 0.1, n).tolist(),
            "var": rng.uniform(0.5, 1.5, n).tolist(),
            "clip_obs": 2.0,
            "epsilon": 1e-8,
        }
    )


def test_observations_are_the_feature_row_then_the_position() -> None:
    features = np.arange(6, dtype=np.float32).reshape(2, 3)
    obs = observations(features, -1)
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs, [[0, 1, 2, -1], [3, 4, 5, -1]])
    per_row = observations(features, np.array([1, 0]))
    np.testing.assert_array_equal(per_row[:, POSITION], [1, 0])


@pytest.mark.parametrize("allow_short", [False, True])
@pytest.mark.parametrize("held", SIDES)
def test_target_sides_equal_target_side_for_every_action(held: int, allow_short: bool) -> None:
    codes = np.array([HOLD, BUY, SELL])
    expected = [target_side(a, held, "discrete", allow_short) for a in codes]
    assert target_sides(codes, held, "discrete", allow_short).tolist() == expected
    edge = np.nextafter(BOX_DEADBAND, 0.0)
    values = np.array([-1.0, -BOX_DEADBAND, -edge, 0.0, edge, BOX_DEADBAND, 1.0])
    expected = [target_side(np.array([v]), held, "box", allow_short) for v in values]
    assert target_sides(values, held, "box", allow_short).tolist() == expected


def test_target_side_maps_the_discrete_codes() -> None:
    assert target_side(HOLD, -1, "discrete", allow_short=True) == -1
    assert target_side(BUY, 0, "discrete", allow_short=False) == 1
    assert target_side(SELL, 1, "discrete", allow_short=False) == 0
    assert target_side(SELL, 1, "discrete", allow_short=True) == -1
    with pytest.raises(ValueError, match="Discrete"):
        target_side(3, 0, "discrete", allow_short=False)


def test_normalization_apply_is_vecnormalize_exactly() -> None:
    stats = _normalization()
    obs = np.random.default_rng(1).normal(0, 3, (50, 4)).astype(np.float32)
    expected = np.clip(
        (obs.astype(np.float64) - stats.mean) / np.sqrt(stats.var + stats.epsilon), -2.0, 2.0
    ).astype(np.float32)
    np.testing.assert_array_equal(stats.apply(obs), expected)
    assert np.abs(stats.apply(obs)).max() == 2.0  # the clip is reached


def test_normalization_features_only_equals_the_feature_columns() -> None:
    stats = _normalization()
    features = np.random.default_rng(2).normal(0, 3, (20, 3)).astype(np.float32)
    whole = stats.apply(observations(features, 1))
    np.testing.assert_array_equal(stats.features_only().apply(features), whole[:, :POSITION])

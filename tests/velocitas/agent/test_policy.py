"""velocitas.agent.policy: numpy inference equals torch's; batched signals equal bar-by-bar ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.lab.factories import make_bars, make_bundle
from tests.support.torch_policy import read_torch_policy
from velocitas.agent.contract import BUY, SELL
from velocitas.agent.policy import (
    PolicyModel,
    build_policy,
    policy_decisions,
    policy_signals,
    read_policy,
)
from velocitas.bundle import BundleError
from velocitas.features import FeatureSpec, build_features


def _stepwise(policy: PolicyModel, features: np.ndarray, first: int) -> np.ndarray:
    """The definition: one observation per bar, the side carried from the previous bar."""
    signals = np.zeros(len(features), dtype=np.int8)
    held = 0
    for t in range(first, len(features)):
        obs = np.r_[features[t], held].astype(np.float32)
        action = policy.predict(obs[None, :])[0][0]
        if policy.action_kind == "discrete":
            if action == BUY:
                held = 1
            elif action == SELL:
                held = -1 if policy.allow_short else 0
        else:
            value = float(action[0])
            held = (
                0 if abs(value) < 1 / 3 else (1 if value > 0 else (-1 if policy.allow_short else 0))
            )
        signals[t] = held
    return signals


@pytest.mark.parametrize(
    ("kind", "allow_short"), [("discrete", False), ("discrete", True), ("box", True)]
)
def test_policy_signals_batched_equals_bar_by_bar(
    tmp_path: Path, kind: str, allow_short: bool
) -> None:
    make_bundle(tmp_path / "b", kind=kind, allow_short=allow_short)
    policy = read_policy(tmp_path / "b")
    bars = make_bars(1500)
    features = build_features(bars, policy.feature_spec)
    signals = policy_signals(policy, features)
    expected = _stepwise(policy, features, policy.feature_spec.warmup)
    np.testing.assert_array_equal(signals, expected)
    assert np.all(signals[: policy.feature_spec.warmup] == 0)
    assert len(np.unique(signals)) > 1, "the test policy should trade"
    if not allow_short:
        assert signals.min() >= 0


@pytest.mark.parametrize(("kind", "allow_short"), [("discrete", True), ("box", True)])
def test_policy_decisions_confidence_is_the_taken_actions_probability(
    tmp_path: Path, kind: str, allow_short: bool
) -> None:
    make_bundle(tmp_path / "b", kind=kind, allow_short=allow_short)
    policy = read_policy(tmp_path / "b")
    features = build_features(make_bars(800), policy.feature_spec)
    first = policy.feature_spec.warmup
    signals, confidence = policy_decisions(policy, features)
    np.testing.assert_array_equal(signals, policy_signals(policy, features))
    expected = np.ones(len(features))
    held = 0
    for t in range(first, len(features)):  # one observation per bar, as `_stepwise`
        obs = np.r_[features[t], held].astype(np.float32)[None, :]
        expected[t] = policy.predict(obs)[1][0]
        held = int(signals[t])
    np.testing.assert_allclose(confidence, expected, rtol=1e-5)
    if kind == "discrete":
        assert confidence[first:].min() < 1.0  # a real distribution, not a constant
        assert confidence[first:].min() >= 1.0 / 3.0 - 1e-6  # the argmax of three actions


def test_read_policy_numpy_matches_torch_rebuild(tmp_path: Path) -> None:
    make_bundle(tmp_path / "b")
    numpy_policy = read_policy(tmp_path / "b")
    torch_policy = read_torch_policy(tmp_path / "b")
    obs = np.random.default_rng(0).normal(size=(256, numpy_policy.obs_dim)).astype(np.float32)
    np.testing.assert_allclose(
        numpy_policy.action_output(obs), torch_policy.action_output(obs), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(numpy_policy.predict(obs)[0], torch_policy.predict(obs)[0])


def test_build_policy_feature_hash_mismatch_is_refused() -> None:
    from tests.lab.factories import policy_documents

    documents = policy_documents()
    weights = {k: v.numpy() for k, v in documents["state_dict"].items()}
    documents["feature_spec"]["spec_hash"] = "0" * 64
    with pytest.raises(BundleError, match="feature spec hash mismatch"):
        build_policy(
            weights, documents["normalization"], documents["config"], documents["feature_spec"]
        )


def test_policy_signals_wrong_feature_width_is_refused(tmp_path: Path) -> None:
    make_bundle(tmp_path / "b")
    policy = read_policy(tmp_path / "b")
    with pytest.raises(ValueError, match="features per bar"):
        policy_signals(policy, np.zeros((10, FeatureSpec().n_features - 1), dtype=np.float32))

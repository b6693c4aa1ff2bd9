"""The compiled kernel against velocitas.agent's numpy forward pass and normalisation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from oracle.inference import compile_policy
from tests.lab.factories import make_bundle
from velocitas.agent.policy import read_policy


@pytest.mark.parametrize(
    ("kind", "net_arch"),
    [("discrete", (64, 64)), ("discrete", (8,)), ("discrete", ()), ("box", (16, 16))],
)
def test_compiled_policy_matches_numpy_policy(
    tmp_path: Path, kind: str, net_arch: tuple[int, ...]
) -> None:
    make_bundle(tmp_path / "b", kind=kind, net_arch=net_arch, seed=5)
    policy = read_policy(tmp_path / "b")
    compiled = compile_policy(policy)
    states = np.random.default_rng(2).normal(0.0, 3.0, (2000, policy.obs_dim))
    expected_actions, expected_confidence = policy.predict(states)
    got = compiled.run(states)
    np.testing.assert_allclose(got.output, policy.action_output(states), atol=1e-5)
    if kind == "discrete":
        np.testing.assert_array_equal(got.actions, expected_actions)
        assert len(set(got.actions.tolist())) > 1  # the policy is not constant: the test can fail
        np.testing.assert_allclose(got.confidence, expected_confidence, atol=1e-5)
    else:
        np.testing.assert_array_equal(got.confidence, np.ones(len(states), dtype=np.float32))


def test_compiled_policy_row_alone_equals_row_in_batch(tmp_path: Path) -> None:
    make_bundle(tmp_path / "b", seed=9)
    compiled = compile_policy(read_policy(tmp_path / "b"))
    states = np.random.default_rng(4).normal(0.0, 2.0, (64, compiled.obs_dim))
    batch = compiled.run(states)
    for r in (0, 17, 63):
        alone = compiled.run(states[r : r + 1].copy())
        assert alone.actions[0] == batch.actions[r]
        assert alone.confidence[0] == batch.confidence[r]


def test_compiled_normalisation_equals_the_contract(tmp_path: Path) -> None:
    # An identity head after no hidden layer: the kernel's output is its normalised state, which
    # must equal the agent contract's one implementation (clipping included).
    make_bundle(tmp_path / "b")
    policy = read_policy(tmp_path / "b")
    n = policy.obs_dim
    identity = dataclasses.replace(
        policy,
        layers=(),
        head=(np.eye(n, dtype=np.float32), np.zeros(n, dtype=np.float32)),
        action_kind="box",
        action_low=-np.inf,
        action_high=np.inf,
    )
    states = np.random.default_rng(6).normal(0.0, 8.0, (500, n))
    got = compile_policy(identity).run(states)
    expected = policy.normalization.apply(states)
    assert np.abs(expected).max() == policy.normalization.clip_obs  # the clip is exercised
    np.testing.assert_array_equal(got.output, expected)

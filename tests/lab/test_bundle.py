"""lab.bundle: deterministic files, verified hashes, a torch rebuild equal to SB3's policy
(the test kit's `tests.support.torch_policy`, the reference the numpy actor is held to)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from lab.bundle import write_bundle
from tests.support.torch_policy import read_torch_policy
from velocitas.bundle import BUNDLE_FILES, BundleError, bundle_sha256, verify_bundle
from velocitas.features import FeatureSpec


def _model(env_id: str) -> PPO:
    torch.manual_seed(0)
    return PPO(
        "MlpPolicy",
        gym.make(env_id),
        policy_kwargs={"net_arch": [16, 8]},
        seed=0,
        device="cpu",
    )


def _documents(model: PPO, kind: str) -> dict[str, Any]:
    obs_dim = int(model.observation_space.shape[0])  # type: ignore[index]
    action = {"kind": "discrete", "n": 2} if kind == "discrete" else {"kind": "box", "dim": 1}
    if kind == "box":
        action.update(low=-2.0, high=2.0)
    spec = FeatureSpec()
    rng = np.random.default_rng(3)
    return {
        "state_dict": model.policy.state_dict(),
        "normalization": {
            "mean": rng.normal(size=obs_dim).tolist(),
            "var": rng.uniform(0.5, 2.0, obs_dim).tolist(),
            "count": 100.0,
            "clip_obs": 10.0,
            "epsilon": 1e-8,
        },
        "feature_spec": {"spec": spec.to_dict(), "spec_hash": spec.spec_hash()},
        "config": {
            "seed": 0,
            "policy": {
                "obs_dim": obs_dim,
                "net_arch": [16, 8],
                "activation": "tanh",
                "action": action,
            },
        },
        "versions": {"torch": torch.__version__},
        "training": {"validation_metrics": {"total_return": 0.1}},
    }


def test_write_bundle_same_content_gives_same_bytes_and_hash(tmp_path: Path) -> None:
    model = _model("CartPole-v1")
    first = write_bundle(tmp_path / "a", **_documents(model, "discrete"))
    second = write_bundle(tmp_path / "b", **_documents(model, "discrete"))
    assert first == second == bundle_sha256(tmp_path / "a")
    for name in BUNDLE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bundle_holds_no_pickle(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", **_documents(_model("CartPole-v1"), "discrete"))
    names = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names == sorted([*BUNDLE_FILES, "manifest.json"])
    for path in (tmp_path / "b").iterdir():
        assert not path.read_bytes().startswith(b"\x80"), f"{path.name} looks like a pickle"


def test_read_torch_policy_discrete_matches_sb3_probabilities(tmp_path: Path) -> None:
    model = _model("CartPole-v1")
    documents = _documents(model, "discrete")
    write_bundle(tmp_path / "b", **documents)
    policy = read_torch_policy(tmp_path / "b")
    obs = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    normalized = policy.normalization.apply(obs)
    mean = np.asarray(documents["normalization"]["mean"])
    var = np.asarray(documents["normalization"]["var"])
    expected_norm = np.clip((obs - mean) / np.sqrt(var + 1e-8), -10, 10).astype(np.float32)
    np.testing.assert_array_equal(normalized, expected_norm)
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.from_numpy(normalized))
        expected = dist.distribution.probs.numpy()  # type: ignore[union-attr]
    np.testing.assert_allclose(policy.action_output(obs), expected, rtol=1e-6, atol=1e-7)
    actions, probability = policy.predict(obs)
    np.testing.assert_array_equal(actions, expected.argmax(axis=1))
    np.testing.assert_allclose(probability, expected.max(axis=1), rtol=1e-6)


def test_read_torch_policy_box_matches_sb3_deterministic_action(tmp_path: Path) -> None:
    model = _model("Pendulum-v1")
    write_bundle(tmp_path / "b", **_documents(model, "box"))
    policy = read_torch_policy(tmp_path / "b")
    obs = np.random.default_rng(2).normal(size=(16, 3)).astype(np.float32)
    with torch.no_grad():
        expected, _ = model.policy.predict(policy.normalization.apply(obs), deterministic=True)
    actions, _ = policy.predict(obs)
    np.testing.assert_allclose(actions, expected, rtol=1e-6, atol=1e-7)


def test_verify_bundle_detects_a_modified_file(tmp_path: Path) -> None:
    sha = write_bundle(tmp_path / "b", **_documents(_model("CartPole-v1"), "discrete"))
    assert verify_bundle(tmp_path / "b", sha) == sha
    with pytest.raises(BundleError, match="registry expects"):
        verify_bundle(tmp_path / "b", "0" * 64)
    config = tmp_path / "b" / "config.json"
    config.write_text(config.read_text().replace('"seed": 0', '"seed": 1'))
    with pytest.raises(BundleError, match="modified"):
        read_torch_policy(tmp_path / "b")


def test_read_torch_policy_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    documents = _documents(_model("CartPole-v1"), "discrete")
    documents["config"]["policy"]["net_arch"] = [32, 8]
    write_bundle(tmp_path / "b", **documents)
    with pytest.raises(BundleError, match="do not fit"):
        read_torch_policy(tmp_path / "b")


def test_write_bundle_refuses_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(FileExistsError):
        write_bundle(tmp_path / "b", **_documents(_model("CartPole-v1"), "discrete"))

"""lab.training: a tiny PPO run is reproducible and validated through the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.bundle import write_bundle
from lab.env import EnvConfig, default_execution
from lab.training import PPOConfig, TrainConfig, TrainedPolicy, library_versions, train_policy
from tests.lab.factories import HOUR_NS, make_bars
from velocitas.agent.policy import read_policy

TRAIN = make_bars(600, seed=21)
VALIDATE = make_bars(400, seed=22, start_ns=int(TRAIN.opened_at[-1]) + HOUR_NS)


def _config(seed: int) -> TrainConfig:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return TrainConfig(
        symbol="TEST",
        timeframe="1h",
        train_start=day,
        train_end=day.replace(day=26),
        validate_start=day.replace(day=26),
        validate_end=day.replace(month=2, day=12),
        timesteps=192,
        seed=seed,
        execution=default_execution("TEST", "1h"),
        env=EnvConfig(episode_bars=100),
        ppo=PPOConfig(n_steps=64, batch_size=32, n_epochs=2, net_arch=(8, 8)),
    )


def _bundle(trained: TrainedPolicy, path: Path) -> str:
    return write_bundle(
        path,
        state_dict=trained.state_dict,
        normalization=trained.normalization,
        feature_spec=trained.feature_spec_doc,
        config=trained.config,
        versions=library_versions(),
        training=trained.training,
    )


def test_train_policy_same_seed_gives_same_weights_and_bundle(tmp_path: Path) -> None:
    first = train_policy(_config(seed=5), TRAIN, VALIDATE)
    second = train_policy(_config(seed=5), TRAIN, VALIDATE)
    assert first.state_dict.keys() == second.state_dict.keys()
    for name, tensor in first.state_dict.items():
        assert torch.equal(tensor, second.state_dict[name]), name
    assert first.normalization == second.normalization
    assert _bundle(first, tmp_path / "a") == _bundle(second, tmp_path / "b")


def test_train_policy_other_seed_gives_other_weights() -> None:
    first = train_policy(_config(seed=5), TRAIN, VALIDATE)
    other = train_policy(_config(seed=6), TRAIN, VALIDATE)
    assert any(
        not torch.equal(tensor, other.state_dict[name]) for name, tensor in first.state_dict.items()
    )


def test_train_policy_validates_and_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    progress: list[int] = []
    trained = train_policy(_config(seed=1), TRAIN, VALIDATE, lambda done, _: progress.append(done))
    curve = trained.training["validation_curve"]
    assert [point["timesteps"] for point in curve] == [64, 128, 192]
    best = max(curve, key=lambda point: point["total_return"])
    assert trained.training["best"]["total_return"] == best["total_return"]
    assert trained.training["validation_metrics"]["total_return"] == best["total_return"]
    assert progress[-1] == 192
    assert trained.config["policy"]["obs_dim"] == 22
    assert trained.config["seed"] == 1
    # The bundle loads back (numpy, no torch) with the stats and weights that were validated.
    _bundle(trained, tmp_path / "b")
    policy = read_policy(tmp_path / "b")
    assert policy.normalization.mean.tolist() == trained.normalization["mean"]


def test_train_policy_sentiment_reaches_the_observations() -> None:
    config = replace(_config(seed=5), sentiment=True)
    rng = np.random.default_rng(0)
    scores = (rng.uniform(-1, 1, len(TRAIN)), rng.uniform(-1, 1, len(VALIDATE)))
    with_scores = train_policy(config, TRAIN, VALIDATE, sentiment=scores)
    without = train_policy(config, TRAIN, VALIDATE)
    assert with_scores.config["sentiment"] is True
    assert with_scores.policy().uses_sentiment
    assert any(
        not torch.equal(tensor, without.state_dict[name])
        for name, tensor in with_scores.state_dict.items()
    )


@pytest.mark.slow
def test_train_policy_same_seed_gives_same_bundle_in_a_new_process(tmp_path: Path) -> None:
    here = _bundle(train_policy(_config(seed=5), TRAIN, VALIDATE), tmp_path / "here")
    code = (
        "import sys; from pathlib import Path\n"
        "from tests.lab.test_training import TRAIN, VALIDATE, _bundle, _config, train_policy\n"
        "print(_bundle(train_policy(_config(seed=5), TRAIN, VALIDATE), Path(sys.argv[1])))\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "there")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).stdout.strip()
    assert there == here

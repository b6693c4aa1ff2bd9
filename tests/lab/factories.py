"""Test data for the lab: synthetic bars and policy bundles with random (untrained) weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.bundle import write_bundle
from tests.support.torch_policy import PolicyNetwork
from velocitas.domain.bars import BarArrays
from velocitas.features import FeatureSpec

HOUR_NS = 3_600_000_000_000
T0_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def make_bars(n: int, seed: int = 7, symbol: str = "TEST", start_ns: int = T0_NS) -> BarArrays:
    """A geometric random walk of hourly bars with consistent OHLC and 2-decimal prices."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.001, n)), 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n)), 2)
    volume = np.round(rng.lognormal(8.0, 1.0, n), 4)
    opened_at = start_ns + np.arange(n, dtype=np.int64) * HOUR_NS
    return BarArrays(symbol, "1h", opened_at, open_, high, low, close, volume)


def policy_documents(
    *,
    seed: int = 0,
    net_arch: tuple[int, ...] = (16, 16),
    kind: str = "discrete",
    allow_short: bool = False,
    spec: FeatureSpec | None = None,
) -> dict[str, Any]:
    """Everything `write_bundle` takes, for a randomly initialised SB3-shaped policy."""
    spec = spec or FeatureSpec()
    obs_dim = spec.n_features + 1
    action: dict[str, Any] = (
        {"kind": "discrete", "n": 3}
        if kind == "discrete"
        else {"kind": "box", "dim": 1, "low": -1.0, "high": 1.0}
    )
    policy_config = {
        "obs_dim": obs_dim,
        "net_arch": list(net_arch),
        "activation": "tanh",
        "action": action,
    }
    torch.manual_seed(seed)
    network = PolicyNetwork(policy_config)
    with torch.no_grad():  # larger head weights than SB3's init, so actions actually vary
        network.action_net.weight.mul_(50.0)
    rng = np.random.default_rng(seed)
    return {
        "state_dict": network.state_dict(),
        "normalization": {
            "kind": "VecNormalize",
            "mean": rng.normal(0, 0.1, obs_dim).tolist(),
            "var": rng.uniform(0.5, 1.5, obs_dim).tolist(),
            "count": 1000.0,
            "clip_obs": 10.0,
            "epsilon": 1e-8,
            "norm_obs": True,
            "norm_reward": False,
        },
        "feature_spec": {"spec": spec.to_dict(), "spec_hash": spec.spec_hash()},
        "config": {
            "seed": seed,
            "policy": policy_config,
            "execution": {"allow_short": allow_short},
        },
        "versions": {"torch": torch.__version__},
        "training": {"validation_metrics": {}},
    }


def make_bundle(path: Path, **kwargs: Any) -> str:
    """Write a random-weights bundle at `path`; returns its sha256."""
    return write_bundle(path, **policy_documents(**kwargs))

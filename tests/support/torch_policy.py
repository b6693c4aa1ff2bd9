"""The torch reference of a bundle's actor: stable-baselines3's MLP actor-critic rebuilt by code.

Tests hold it equal to SB3's own policy (so a lab bundle is what SB3 trained) and to the numpy
actor that runs in production (`velocitas.agent.policy`), and make random-weights bundles with
`PolicyNetwork`. Nothing is unpickled: the weights load from safetensors with strict key checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file
from torch import nn

from velocitas.agent.contract import ObservationNormalization
from velocitas.bundle import (
    CONFIG,
    NORMALIZATION,
    WEIGHTS,
    BundleError,
    read_json,
    verify_bundle,
)

__all__ = ["PolicyNetwork", "TorchPolicy", "build_torch_policy", "read_torch_policy"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class _MlpExtractor(nn.Module):
    def __init__(self, obs_dim: int, net_arch: list[int], activation: type[nn.Module]) -> None:
        super().__init__()
        self.policy_net = _mlp(obs_dim, net_arch, activation)
        self.value_net = _mlp(obs_dim, net_arch, activation)


def _mlp(obs_dim: int, net_arch: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = obs_dim
    for size in net_arch:
        layers += [nn.Linear(width, size), activation()]
        width = size
    return nn.Sequential(*layers)


class PolicyNetwork(nn.Module):
    """Stable-baselines3's MLP actor-critic, rebuilt by code with the same parameter names.

    `policy_config`: `obs_dim`, `net_arch` (list of hidden widths, shared by actor and critic),
    `activation` ("tanh" | "relu"), `action` ({"kind": "discrete", "n": k} or
    {"kind": "box", "dim": d, "low": l, "high": h}).
    """

    def __init__(self, policy_config: Mapping[str, Any]) -> None:
        super().__init__()
        try:
            obs_dim = int(policy_config["obs_dim"])
            net_arch = [int(w) for w in policy_config["net_arch"]]
            activation = _ACTIVATIONS[policy_config["activation"]]
            action = policy_config["action"]
            self.action_kind = str(action["kind"])
            out = int(action["n"]) if self.action_kind == "discrete" else int(action["dim"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"policy config is incomplete or invalid: {exc!r}") from exc
        if self.action_kind not in ("discrete", "box"):
            raise BundleError(f"unknown action kind {self.action_kind!r}")
        self.obs_dim = obs_dim
        width = net_arch[-1] if net_arch else obs_dim
        self.mlp_extractor = _MlpExtractor(obs_dim, net_arch, activation)
        self.action_net = nn.Linear(width, out)
        self.value_net = nn.Linear(width, 1)
        if self.action_kind == "box":
            self.log_std = nn.Parameter(torch.zeros(out))
            self.low = float(action.get("low", -1.0))
            self.high = float(action.get("high", 1.0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits (discrete) or the mean action (box) for normalised observations."""
        return self.action_net(self.mlp_extractor.policy_net(obs))


@dataclass(frozen=True)
class TorchPolicy:
    """A bundle's actor in torch: the contract's normalisation, then the network."""

    sha256: str
    network: PolicyNetwork
    normalization: ObservationNormalization

    @torch.no_grad()
    def action_output(self, obs: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Batched forward pass on raw observations (shape (n, obs_dim)): action
        probabilities (discrete) or deterministic actions clipped to the box (box)."""
        tensor = torch.from_numpy(self.normalization.apply(np.atleast_2d(obs)))
        out = self.network(tensor)
        if self.network.action_kind == "discrete":
            return torch.softmax(out, dim=-1).numpy()
        return np.clip(out.numpy(), self.network.low, self.network.high)

    def predict(self, obs: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.float32]]:
        """Deterministic actions and, for discrete policies, the chosen action's probability
        (1.0 for box policies)."""
        out = self.action_output(obs)
        if self.network.action_kind == "discrete":
            actions = out.argmax(axis=-1)
            return actions, out[np.arange(len(out)), actions]
        return out, np.ones(len(out), dtype=np.float32)


def build_torch_policy(
    state_dict: Mapping[str, torch.Tensor],
    normalization: Mapping[str, Any],
    config: Mapping[str, Any],
    sha256: str = "",
) -> TorchPolicy:
    """A `TorchPolicy` from weights and documents already in memory."""
    network = PolicyNetwork(config["policy"])
    try:
        network.load_state_dict(dict(state_dict), strict=True)
    except RuntimeError as exc:
        raise BundleError(f"weights do not fit the policy config: {exc}") from exc
    network.eval()
    stats = ObservationNormalization.from_document(normalization)
    if stats.mean.shape != (network.obs_dim,) or stats.var.shape != stats.mean.shape:
        raise BundleError("normalisation statistics do not match the observation size")
    return TorchPolicy(sha256=sha256, network=network, normalization=stats)


def read_torch_policy(path: Path, expected_sha256: str | None = None) -> TorchPolicy:
    """Verify and load the bundle at `path` (no pickle anywhere)."""
    path = Path(path)
    sha = verify_bundle(path, expected_sha256)
    try:
        return build_torch_policy(
            load_file(str(path / WEIGHTS)),
            read_json(path, NORMALIZATION),
            read_json(path, CONFIG),
            sha256=sha,
        )
    except (KeyError, BundleError) as exc:
        raise BundleError(f"bundle {path}: {exc}") from exc

"""Artifact bundles: one directory per trained policy, written once, verified on every load.

Layout (every file is written deterministically: same content, same bytes):

    policy.safetensors   the actor-critic weights (SB3 `ActorCriticPolicy.state_dict()` names)
    normalization.json   VecNormalize observation statistics: mean, var, count, clip_obs, epsilon
    feature_spec.json    `velocitas.features.FeatureSpec.to_dict()` and its `spec_hash`
    config.json          the full training config: data, env, PPO, policy shape, seed
    versions.json        library versions that produced the bundle
    training.json        training curves and validation metrics
    manifest.json        sha256 of each file above and of the bundle (not part of the hash itself)

The bundle's sha256 hashes `name NUL sha256(file) LF` for the files above, in that fixed order.

Hashing and verification live in `velocitas.bundle`; `velocitas.policy` runs a bundle's actor in
numpy for
backtests (worker, lab evaluation, oracle: no torch needed). `load_policy` here rebuilds the
whole SB3-shaped actor-critic in torch from `config.json` and loads the safetensors weights into
it with strict key checking. Nothing is unpickled, so a bundle cannot run code on load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from velocitas.bundle import (
    BUNDLE_FILES,
    CONFIG,
    FEATURE_SPEC,
    MANIFEST,
    NORMALIZATION,
    TRAINING,
    VERSIONS,
    WEIGHTS,
    BundleError,
    bundle_sha256,
    file_hashes,
    read_json,
    verify_bundle,
)

__all__ = [
    "BUNDLE_FILES",
    "BundleError",
    "LoadedPolicy",
    "PolicyNetwork",
    "assemble_policy",
    "bundle_sha256",
    "load_policy",
    "read_json",
    "verify_bundle",
    "write_bundle",
]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n").encode()


def write_bundle(
    path: Path,
    *,
    state_dict: Mapping[str, torch.Tensor],
    normalization: Mapping[str, Any],
    feature_spec: Mapping[str, Any],
    config: Mapping[str, Any],
    versions: Mapping[str, Any],
    training: Mapping[str, Any],
) -> str:
    """Write a bundle into the new directory `path`; returns its sha256."""
    path.mkdir(parents=True, exist_ok=False)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state_dict.items()}
    save_file(tensors, str(path / WEIGHTS), metadata={"format": "pt"})
    documents = {
        NORMALIZATION: normalization,
        FEATURE_SPEC: feature_spec,
        CONFIG: config,
        VERSIONS: versions,
        TRAINING: training,
    }
    for name, data in documents.items():
        (path / name).write_bytes(_json_bytes(data))
    sha = bundle_sha256(path)
    files = file_hashes(path)
    (path / MANIFEST).write_bytes(_json_bytes({"files": files, "sha256": sha}))
    return sha


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
class LoadedPolicy:
    """A bundle ready for inference: normalisation, network and what it was trained on."""

    path: Path
    sha256: str
    network: PolicyNetwork
    obs_mean: npt.NDArray[np.float64]
    obs_var: npt.NDArray[np.float64]
    clip_obs: float
    epsilon: float
    feature_spec: dict[str, Any]
    feature_spec_hash: str
    config: dict[str, Any]

    def normalize(self, obs: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """VecNormalize's observation transform, exactly: clip((x − mean) / √(var + ε))."""
        scaled = (np.asarray(obs, dtype=np.float64) - self.obs_mean) / np.sqrt(
            self.obs_var + self.epsilon
        )
        return np.clip(scaled, -self.clip_obs, self.clip_obs).astype(np.float32)

    @torch.no_grad()
    def action_output(self, obs: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Batched forward pass on raw observations (shape (n, obs_dim)): action
        probabilities (discrete) or deterministic actions clipped to the box (box)."""
        tensor = torch.from_numpy(self.normalize(np.atleast_2d(obs)))
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


def assemble_policy(
    state_dict: Mapping[str, torch.Tensor],
    normalization: Mapping[str, Any],
    config: Mapping[str, Any],
    feature_spec_doc: Mapping[str, Any],
    *,
    path: Path | None = None,
    sha256: str = "",
) -> LoadedPolicy:
    """A `LoadedPolicy` from weights and documents already in memory (training uses this to
    validate checkpoints exactly as they will be loaded later)."""
    network = PolicyNetwork(config["policy"])
    try:
        network.load_state_dict(dict(state_dict), strict=True)
    except RuntimeError as exc:
        raise BundleError(f"weights do not fit the policy config: {exc}") from exc
    network.eval()
    mean = np.asarray(normalization["mean"], dtype=np.float64)
    var = np.asarray(normalization["var"], dtype=np.float64)
    if mean.shape != (network.obs_dim,) or var.shape != mean.shape:
        raise BundleError("normalisation statistics do not match the observation size")
    return LoadedPolicy(
        path=path or Path(),
        sha256=sha256,
        network=network,
        obs_mean=mean,
        obs_var=var,
        clip_obs=float(normalization["clip_obs"]),
        epsilon=float(normalization["epsilon"]),
        feature_spec=dict(feature_spec_doc["spec"]),
        feature_spec_hash=str(feature_spec_doc["spec_hash"]),
        config=dict(config),
    )


def load_policy(path: Path, expected_sha256: str | None = None) -> LoadedPolicy:
    """Verify and load the bundle at `path` (no pickle anywhere)."""
    path = Path(path)
    sha = verify_bundle(path, expected_sha256)
    try:
        return assemble_policy(
            load_file(str(path / WEIGHTS)),
            read_json(path, NORMALIZATION),
            read_json(path, CONFIG),
            read_json(path, FEATURE_SPEC),
            path=path,
            sha256=sha,
        )
    except (KeyError, BundleError) as exc:
        raise BundleError(f"bundle {path}: {exc}") from exc

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

Hashing and verification live in `velocitas.bundle`; `velocitas.agent.policy.read_policy`
rebuilds a bundle's actor in numpy for back-tests and serving (worker, lab evaluation, oracle:
no torch needed). Nothing is pickled, so a bundle cannot run code on load. The torch rebuild
that proves the numpy actor equal to stable-baselines3's is test code
(`tests/support/torch_policy.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from velocitas.bundle import (
    CONFIG,
    FEATURE_SPEC,
    MANIFEST,
    NORMALIZATION,
    TRAINING,
    VERSIONS,
    WEIGHTS,
    bundle_sha256,
    file_hashes,
)

__all__ = ["write_bundle"]


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

"""The policy bundle format: its files, its hash, its verification (no third-party code).

A bundle is the directory the lab writes after training (`lab.bundle.write_bundle`):

    policy.safetensors   actor-critic weights (stable-baselines3 parameter names)
    normalization.json   VecNormalize observation statistics
    feature_spec.json    `velocitas.features.FeatureSpec` and its hash
    config.json          the full training config (policy shape, execution spec, seed, data)
    versions.json        library versions
    training.json        training curves and validation metrics
    manifest.json        sha256 of each file above and of the bundle (not hashed itself)

The bundle's sha256 hashes `name NUL sha256(file) LF` for the six files in that order. The
registry stores it; every reader checks it before trusting anything in the directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from velocitas.errors import ConfigurationError

__all__ = [
    "BUNDLE_FILES",
    "CONFIG",
    "FEATURE_SPEC",
    "MANIFEST",
    "NORMALIZATION",
    "TRAINING",
    "VERSIONS",
    "WEIGHTS",
    "BundleError",
    "bundle_sha256",
    "file_hashes",
    "read_json",
    "verify_bundle",
]

WEIGHTS = "policy.safetensors"
NORMALIZATION = "normalization.json"
FEATURE_SPEC = "feature_spec.json"
CONFIG = "config.json"
VERSIONS = "versions.json"
TRAINING = "training.json"
MANIFEST = "manifest.json"
BUNDLE_FILES = (WEIGHTS, NORMALIZATION, FEATURE_SPEC, CONFIG, VERSIONS, TRAINING)
"""The hashed files of a bundle, in hashing order."""


class BundleError(ConfigurationError):
    """A bundle is missing a file, was modified after it was written, or does not fit the code."""


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 of each hashed file of the bundle at `path`."""
    hashes = {}
    for name in BUNDLE_FILES:
        file = path / name
        if not file.is_file():
            raise BundleError(f"bundle {path} has no {name}")
        hashes[name] = _file_sha256(file)
    return hashes


def bundle_sha256(path: Path) -> str:
    """The bundle's hash: sha256 over `name NUL sha256(file) LF` in `BUNDLE_FILES` order."""
    digest = hashlib.sha256()
    for name, sha in file_hashes(path).items():
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


def read_json(path: Path, name: str) -> Any:
    try:
        return json.loads((path / name).read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"bundle {path}: cannot read {name}: {exc}") from exc


def verify_bundle(path: Path, expected_sha256: str | None = None) -> str:
    """Recompute the bundle's hash; `BundleError` unless it matches its manifest (and
    `expected_sha256`, e.g. the registry's, when given). Returns the hash."""
    sha = bundle_sha256(path)
    if read_json(path, MANIFEST).get("sha256") != sha:
        raise BundleError(f"bundle {path} was modified after it was written (sha256 {sha})")
    if expected_sha256 is not None and expected_sha256 != sha:
        raise BundleError(f"bundle {path} has sha256 {sha}, the registry expects {expected_sha256}")
    return sha

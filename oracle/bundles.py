"""Loading a registered bundle for serving, without ever unpickling anything.

Every file of the bundle is read once into memory and everything is checked on those bytes,
so nothing can change between the check and the use:

1. the directory holds the bundle's files and nothing else (a stray `.pkl`, `.pt`, a symlink
   or a sub-directory refuses the bundle: the oracle serves only what the lab's writer makes);
2. the bundle's sha256 (`velocitas.bundle`'s formula) equals its manifest and the registry's row;
3. `policy.safetensors` starts with a safetensors header (8-byte length, then a JSON object):
   a pickle, a torch `.pt` zip or anything else is refused before any parser sees it, and the
   weights are then decoded by safetensors, which only copies tensors;
4. the metadata is JSON; the network is rebuilt from `config.json` by code
   (`velocitas.agent.policy`);
5. the feature spec is this code's: same `FEATURE_SPEC_VERSION`, and the spec's hash recomputed
   here equals the bundle's and the registry's. Otherwise the observations the oracle builds
   would not be the ones the policy was trained on.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oracle.inference import CompiledPolicy, compile_policy
from velocitas.agent.policy import PolicyModel, build_policy
from velocitas.bundle import (
    BUNDLE_FILES,
    CONFIG,
    FEATURE_SPEC,
    MANIFEST,
    NORMALIZATION,
    WEIGHTS,
    BundleError,
)
from velocitas.db.models_registry import ModelRecord
from velocitas.features import FEATURE_SPEC_VERSION

__all__ = ["MAX_BUNDLE_BYTES", "ServedModel", "load_served_model", "read_bundle_files"]

MAX_BUNDLE_BYTES = 256 << 20
"""A bundle larger than this is refused unread (a policy MLP weighs kilobytes to megabytes)."""


@dataclass(frozen=True)
class ServedModel:
    """A verified bundle ready to answer requests; immutable, swapped whole on reload."""

    version: str
    sha256: str
    feature_spec_hash: str
    symbol: str
    timeframe: str
    policy: PolicyModel
    compiled: CompiledPolicy
    loaded_at: datetime


def read_bundle_files(path: Path) -> dict[str, bytes]:
    """The bytes of each file of the bundle at `path`; `BundleError` if it holds anything else."""
    if path.is_symlink() or not path.is_dir():
        raise BundleError(f"bundle {path} is not a directory")
    expected = {*BUNDLE_FILES, MANIFEST}
    total = 0
    for entry in sorted(path.iterdir()):
        if entry.name not in expected:
            raise BundleError(
                f"bundle {path} holds an unexpected file {entry.name!r}; a bundle holds only "
                f"{', '.join(sorted(expected))}: refusing to load it"
            )
        if entry.is_symlink() or not entry.is_file():
            raise BundleError(f"bundle {path}: {entry.name} is not a regular file")
        total += entry.stat().st_size
    if total > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle {path} weighs {total} bytes, more than {MAX_BUNDLE_BYTES}")
    missing = sorted(expected - {entry.name for entry in path.iterdir()})
    if missing:
        raise BundleError(f"bundle {path} has no {', '.join(missing)}")
    return {name: (path / name).read_bytes() for name in sorted(expected)}


def _bundle_sha256(files: dict[str, bytes]) -> str:
    # velocitas.bundle.bundle_sha256's formula, on bytes already in memory (a test keeps them
    # equal).
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        digest.update(f"{name}\0{hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return digest.hexdigest()


def _json(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name])
    except ValueError as exc:
        raise BundleError(f"{name} is not JSON: {exc}") from exc


def _check_safetensors_header(data: bytes) -> None:
    """Refuse anything that is not a safetensors file before a parser reads it."""
    if len(data) < 10:
        raise BundleError(f"{WEIGHTS} is {len(data)} bytes: not a safetensors file")
    (header_length,) = struct.unpack("<Q", data[:8])
    if not 2 <= header_length <= len(data) - 8 or data[8:9] != b"{":
        raise BundleError(
            f"{WEIGHTS} is not a safetensors file (it starts with {data[:4]!r}); the oracle "
            "reads weights only as safetensors and never unpickles"
        )


def _decode_weights(data: bytes) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    _check_safetensors_header(data)
    try:
        return load(data)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{WEIGHTS} cannot be decoded as safetensors: {exc}") from exc


def load_served_model(record: ModelRecord) -> ServedModel:
    """Verify and load the bundle of a registry row (see the module docstring for the checks).

    Raises `BundleError` (a `ConfigurationError`) naming what is wrong; nothing is executed.
    """
    path = Path(record.path)
    files = read_bundle_files(path)
    sha = _bundle_sha256(files)
    manifest = _json(files, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("sha256") != sha:
        raise BundleError(f"bundle {path} was modified after it was written (sha256 {sha})")
    if sha != record.sha256:
        raise BundleError(
            f"bundle {path} has sha256 {sha}, the registry expects {record.sha256} "
            f"for version {record.version!r}"
        )
    feature_doc = _json(files, FEATURE_SPEC)
    policy = build_policy(
        _decode_weights(files[WEIGHTS]),
        _json(files, NORMALIZATION),
        _json(files, CONFIG),
        feature_doc,
        sha,
    )
    spec = policy.feature_spec
    if spec.version != FEATURE_SPEC_VERSION:
        raise BundleError(
            f"model {record.version!r} was trained on feature spec version {spec.version}; this "
            f"code builds version {FEATURE_SPEC_VERSION}: retrain it"
        )
    spec_hash = spec.spec_hash()
    if spec_hash != record.feature_spec_hash:
        raise BundleError(
            f"feature spec hash mismatch for {record.version!r}: the registry says "
            f"{record.feature_spec_hash}, this code computes {spec_hash}"
        )
    return ServedModel(
        version=record.version,
        sha256=sha,
        feature_spec_hash=spec_hash,
        symbol=record.symbol,
        timeframe=record.timeframe,
        policy=policy,
        compiled=compile_policy(policy),
        loaded_at=datetime.now(UTC),
    )

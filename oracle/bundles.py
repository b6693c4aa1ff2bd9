"""Loading a registered bundle for serving, without ever unpickling anything.

The bundle is read and verified by `velocitas.bundle.load_bundle`, the one loader every reader
of bundles uses (the worker's policy strategy too), so the oracle and the workers refuse the
same bundles: a directory holding anything but the lab's files (a stray `.pkl`, `.pt`, a
symlink, a sub-directory), a hash other than its manifest's or the registry's row, weights that
are not safetensors. On those verified bytes the oracle then

1. decodes the weights with safetensors, which only copies tensors, and rebuilds the network
   from `config.json` by code (`velocitas.agent.policy.policy_from_bundle`);
2. checks that the feature spec is this code's: same `FEATURE_SPEC_VERSION`, and the spec's
   hash recomputed here equals the bundle's and the registry's. Otherwise the observations the
   oracle builds would not be the ones the policy was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from oracle.inference import CompiledPolicy, compile_policy
from velocitas.agent.policy import PolicyModel, policy_from_bundle
from velocitas.bundle import BundleError, load_bundle
from velocitas.db.models_registry import ModelRecord
from velocitas.features import FEATURE_SPEC_VERSION

__all__ = ["ServedModel", "load_served_model"]


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


def load_served_model(record: ModelRecord) -> ServedModel:
    """Verify and load the bundle of a registry row (see the module docstring for the checks).

    Raises `BundleError` (a `ConfigurationError`) naming what is wrong; nothing is executed.
    """
    path = Path(record.path)
    bundle = load_bundle(path)
    sha = bundle.sha256
    if sha != record.sha256:
        raise BundleError(
            f"bundle {path} has sha256 {sha}, the registry expects {record.sha256} "
            f"for version {record.version!r}"
        )
    policy = policy_from_bundle(bundle)
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

"""worker.app: the Celery app's composition, here the model registry behind the policy strategy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.lab.factories import make_bars
from tests.oracle.factories import registered_bundle
from velocitas.agent.policy import policy_signals, read_policy
from velocitas.bundle import BundleError
from velocitas.features import build_features
from velocitas.strategies import registry
from velocitas.strategies.policy import PolicyStrategy


@pytest.fixture
def enabled(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(PolicyStrategy, "resolver", None)  # restored after the test
    from worker.app import create_app

    create_app()
    yield
    registry.unregister("policy")


def test_create_app_runs_registered_policies_from_the_database(
    enabled: None, tmp_path: Path
) -> None:
    record = registered_bundle(tmp_path, "v1", seed=4)
    bars = make_bars(400, seed=11)
    strategy = registry.build("policy", {"model": "v1"})
    policy = read_policy(record.path)
    expected = policy_signals(policy, build_features(bars, policy.feature_spec))
    np.testing.assert_array_equal(strategy.signals(bars), expected)


def _extra_file(bundle: Path) -> None:
    (bundle / "policy.pt").write_bytes(b"PK\x03\x04")


def _symlinked_file(bundle: Path) -> None:
    outside = bundle.parent / "outside.json"
    (bundle / "versions.json").rename(outside)
    (bundle / "versions.json").symlink_to(outside)  # same bytes, same hashes


@pytest.mark.parametrize("plant", [_extra_file, _symlinked_file])
def test_create_app_refuses_bundles_the_oracle_refuses(
    enabled: None, tmp_path: Path, plant: object
) -> None:
    assert callable(plant)
    record = registered_bundle(tmp_path, "v1", seed=4)
    plant(Path(record.path))
    with pytest.raises(BundleError, match=r"unexpected file|not a regular file"):
        registry.build("policy", {"model": "v1"}).signals(make_bars(400, seed=11))

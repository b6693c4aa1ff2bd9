"""Safe loading: only the lab's files, hashes against the registry, no pickle ever executed,
and the feature spec of this code."""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
from pathlib import Path

import pytest
import torch

from oracle.bundles import load_served_model
from tests.oracle.factories import new_bundle
from velocitas.bundle import (
    MANIFEST,
    WEIGHTS,
    BundleError,
    bundle_sha256,
    file_hashes,
    files_sha256,
    read_bundle_files,
)
from velocitas.features import FeatureSpec


class _Payload:
    """Unpickling this creates `marker`: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def _pickle_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Payload(marker))


def _torch_bytes(marker: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save({"weights": _Payload(marker)}, buffer)
    return buffer.getvalue()


def _rehash(path: Path) -> str:
    """Rewrite the manifest as an attacker with write access would, so only the format
    checks stand between the planted file and a loader."""
    sha = bundle_sha256(path)
    manifest = {"files": file_hashes(path), "sha256": sha}
    (path / MANIFEST).write_text(json.dumps(manifest))
    return sha


def test_load_served_model_verifies_and_loads_a_lab_bundle(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1", seed=3)
    model = load_served_model(record)
    assert model.version == "v1"
    assert model.sha256 == record.sha256
    assert model.feature_spec_hash == FeatureSpec().spec_hash()
    assert model.compiled.obs_dim == FeatureSpec().n_features + 1


def test_bundle_sha256_in_memory_equals_core_bundle(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1")
    files = read_bundle_files(Path(record.path))
    assert files_sha256(files) == bundle_sha256(Path(record.path)) == record.sha256


@pytest.mark.parametrize("make_payload", [_pickle_bytes, _torch_bytes])
def test_load_served_model_refuses_pickled_weights_without_running_them(
    tmp_path: Path, make_payload: object
) -> None:
    assert callable(make_payload)
    probe = tmp_path / "probe"
    payload_check = make_payload(probe)
    if payload_check[:2] != b"PK":  # the plain pickle: show that loading it would run code
        pickle.loads(payload_check)
        assert probe.exists()
    marker = tmp_path / "marker"
    record = new_bundle(tmp_path, "v1")
    bundle = Path(record.path)
    (bundle / WEIGHTS).write_bytes(make_payload(marker))
    record = dataclasses.replace(record, sha256=_rehash(bundle))
    with pytest.raises(BundleError, match="not a safetensors file"):
        load_served_model(record)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["policy.pkl", "policy.pt", "extra.json"])
def test_load_served_model_refuses_an_extra_file(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "marker"
    record = new_bundle(tmp_path, "v1")
    (Path(record.path) / name).write_bytes(_pickle_bytes(marker))
    with pytest.raises(BundleError, match=f"unexpected file '{name}'"):
        load_served_model(record)
    assert not marker.exists()


def test_load_served_model_refuses_a_symlink_in_the_bundle(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1")
    bundle = Path(record.path)
    outside = tmp_path / "outside.json"
    (bundle / "training.json").rename(outside)
    (bundle / "training.json").symlink_to(outside)  # same bytes, same hashes: only the link
    with pytest.raises(BundleError, match=r"training\.json is not a regular file"):
        load_served_model(record)


def test_load_served_model_refuses_a_hash_other_than_the_registry(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1")
    with pytest.raises(BundleError, match="the registry expects"):
        load_served_model(dataclasses.replace(record, sha256="f" * 64))


def test_load_served_model_refuses_a_modified_file(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1")
    config = Path(record.path) / "normalization.json"
    config.write_text(config.read_text().replace("10.0", "11.0"))
    with pytest.raises(BundleError, match="modified after it was written"):
        load_served_model(record)


def test_load_served_model_refuses_an_old_feature_spec_version(tmp_path: Path) -> None:
    spec = FeatureSpec(version=0)
    record = new_bundle(tmp_path, "v1", spec=spec)
    record = dataclasses.replace(record, feature_spec_hash=spec.spec_hash())
    with pytest.raises(BundleError, match="feature spec version 0"):
        load_served_model(record)


def test_load_served_model_refuses_a_spec_hash_other_than_the_registry(tmp_path: Path) -> None:
    record = new_bundle(tmp_path, "v1")
    other = FeatureSpec(return_window=8).spec_hash()
    with pytest.raises(BundleError, match="feature spec hash mismatch"):
        load_served_model(dataclasses.replace(record, feature_spec_hash=other))


def test_load_served_model_refuses_a_spec_whose_hash_this_code_does_not_compute(
    tmp_path: Path,
) -> None:
    record = new_bundle(tmp_path, "v1")
    bundle = Path(record.path)
    doc = json.loads((bundle / "feature_spec.json").read_text())
    doc["spec_hash"] = "0" * 64
    (bundle / "feature_spec.json").write_text(json.dumps(doc))
    record = dataclasses.replace(record, sha256=_rehash(bundle))
    with pytest.raises(BundleError, match="feature spec hash mismatch"):
        load_served_model(record)

"""velocitas.bundle.load_bundle: the one rule every reader of a bundle applies (the oracle's
`load_served_model` and the workers' `read_policy` both go through it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lab.factories import make_bundle
from velocitas import bundle as bundle_module
from velocitas.agent.policy import read_policy
from velocitas.bundle import BUNDLE_FILES, MANIFEST, BundleError, load_bundle


def _extra_file(bundle: Path) -> Path:
    (bundle / "policy.pkl").write_bytes(b"\x80\x04K\x01.")
    return bundle


def _symlinked_file(bundle: Path) -> Path:
    outside = bundle.parent / "training.json"
    (bundle / "training.json").rename(outside)
    (bundle / "training.json").symlink_to(outside)  # same bytes and hashes: only the link differs
    return bundle


def _symlinked_bundle(bundle: Path) -> Path:
    link = bundle.parent / "link"
    link.symlink_to(bundle, target_is_directory=True)
    return link


def _sub_directory(bundle: Path) -> Path:
    (bundle / "extra").mkdir()
    return bundle


def _missing_file(bundle: Path) -> Path:
    (bundle / "versions.json").unlink()
    return bundle


DEFECTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "extra file": (_extra_file, "unexpected file 'policy.pkl'"),
    "symlinked file": (_symlinked_file, "training.json is not a regular file"),
    "symlinked bundle": (_symlinked_bundle, "is not a directory"),
    "sub-directory": (_sub_directory, "unexpected file 'extra'"),
    "missing file": (_missing_file, "has no versions.json"),
}


def test_load_bundle_reads_every_file_once_and_verifies_the_hash(tmp_path: Path) -> None:
    sha = make_bundle(tmp_path / "b")
    loaded = load_bundle(tmp_path / "b", sha)
    assert loaded.sha256 == sha
    assert set(loaded.files) == {*BUNDLE_FILES, MANIFEST}
    assert loaded.files["config.json"] == (tmp_path / "b" / "config.json").read_bytes()


@pytest.mark.parametrize("defect", DEFECTS, ids=list(DEFECTS))
def test_load_bundle_refuses(tmp_path: Path, defect: str) -> None:
    plant, message = DEFECTS[defect]
    sha = make_bundle(tmp_path / "b")
    with pytest.raises(BundleError, match=re.escape(message)):
        load_bundle(plant(tmp_path / "b"), sha)


@pytest.mark.parametrize("defect", DEFECTS, ids=list(DEFECTS))
def test_read_policy_refuses_what_load_bundle_refuses(tmp_path: Path, defect: str) -> None:
    plant, message = DEFECTS[defect]
    sha = make_bundle(tmp_path / "b")
    read_policy(tmp_path / "b", sha)  # the untouched bundle loads: the defect is the cause
    with pytest.raises(BundleError, match=re.escape(message)):
        read_policy(plant(tmp_path / "b"), sha)


def test_load_bundle_refuses_a_bundle_over_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bundle(tmp_path / "b")
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 100)
    with pytest.raises(BundleError, match="more than 100"):
        load_bundle(tmp_path / "b")


def test_load_bundle_refuses_weights_that_are_not_safetensors(tmp_path: Path) -> None:
    make_bundle(tmp_path / "b")
    (tmp_path / "b" / "policy.safetensors").write_bytes(b"\x80\x04K\x01." * 4)
    rehashed = bundle_module.bundle_sha256(tmp_path / "b")
    manifest = tmp_path / "b" / MANIFEST
    manifest.write_text(f'{{"sha256": "{rehashed}"}}')
    with pytest.raises(BundleError, match="not a safetensors file"):
        load_bundle(tmp_path / "b")

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

Every reader (the oracle serving a model, a worker back-testing a policy, the lab evaluating
one) loads a bundle through `load_bundle`, one rule for all:

1. the directory holds these seven files and nothing else: an extra file (a stray `.pkl`,
   `.pt`), a symlink (to a file or as the bundle itself) or a sub-directory refuses it, since
   a reader trusts only what the lab's writer makes;
2. every file is read once into memory, and every later check and use reads those bytes, so
   nothing can change between the check and the use;
3. the bundle's sha256 equals its manifest's, and the registry's when given;
4. `policy.safetensors` starts with a safetensors header (an 8-byte length, then a JSON
   object): a pickle or a torch `.pt` zip is refused before any parser sees it
   (`check_safetensors_header`; the decoding itself is `velocitas.agent.policy`'s).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velocitas.errors import ConfigurationError

__all__ = [
    "BUNDLE_FILES",
    "CONFIG",
    "FEATURE_SPEC",
    "MANIFEST",
    "MAX_BUNDLE_BYTES",
    "NORMALIZATION",
    "TRAINING",
    "VERSIONS",
    "WEIGHTS",
    "BundleError",
    "LoadedBundle",
    "bundle_sha256",
    "check_safetensors_header",
    "file_hashes",
    "files_sha256",
    "load_bundle",
    "read_bundle_files",
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
MAX_BUNDLE_BYTES = 256 << 20
"""A bundle larger than this is refused unread (a policy MLP weighs kilobytes to megabytes)."""


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


def files_sha256(files: Mapping[str, bytes]) -> str:
    """`bundle_sha256`'s formula on the bundle's bytes already in memory."""
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        digest.update(f"{name}\0{hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return digest.hexdigest()


def read_bundle_files(path: Path) -> dict[str, bytes]:
    """The bytes of each file of the bundle at `path`; `BundleError` if the directory is a
    symlink or holds anything but the bundle's regular files, or weighs over
    `MAX_BUNDLE_BYTES`."""
    if path.is_symlink() or not path.is_dir():
        raise BundleError(f"bundle {path} is not a directory")
    expected = {*BUNDLE_FILES, MANIFEST}
    entries = sorted(path.iterdir())
    total = 0
    for entry in entries:
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
    missing = sorted(expected - {entry.name for entry in entries})
    if missing:
        raise BundleError(f"bundle {path} has no {', '.join(missing)}")
    files = {name: _read_regular_file(path / name) for name in sorted(expected)}
    if sum(len(data) for data in files.values()) > MAX_BUNDLE_BYTES:  # grew since listed
        raise BundleError(f"bundle {path} weighs more than {MAX_BUNDLE_BYTES} bytes")
    return files


def _read_regular_file(file: Path) -> bytes:
    # O_NOFOLLOW and fstat on the descriptor read: a file swapped for a symlink or a FIFO after
    # the listing above is refused, not followed.
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BundleError(f"bundle {file.parent}: cannot read {file.name}: {exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BundleError(f"bundle {file.parent}: {file.name} is not a regular file")
        return handle.read(MAX_BUNDLE_BYTES + 1)


@dataclass(frozen=True)
class LoadedBundle:
    """A bundle's files, read once and verified (`load_bundle`): use only these bytes."""

    path: Path
    sha256: str
    files: Mapping[str, bytes]

    def json(self, name: str) -> Any:
        """The JSON document `name` of the bundle."""
        try:
            return json.loads(self.files[name])
        except ValueError as exc:
            raise BundleError(f"bundle {self.path}: {name} is not JSON: {exc}") from exc


def load_bundle(path: Path | str, expected_sha256: str | None = None) -> LoadedBundle:
    """Read and verify the bundle at `path` by the module's rule (its files and nothing else,
    its manifest's hash, `expected_sha256` (the registry's) when given, a safetensors header);
    `BundleError` naming what is wrong otherwise. Nothing in it is parsed but JSON."""
    path = Path(path)
    files = read_bundle_files(path)
    sha = files_sha256(files)
    bundle = LoadedBundle(path, sha, files)
    manifest = bundle.json(MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("sha256") != sha:
        raise BundleError(f"bundle {path} was modified after it was written (sha256 {sha})")
    if expected_sha256 is not None and expected_sha256 != sha:
        raise BundleError(f"bundle {path} has sha256 {sha}, the registry expects {expected_sha256}")
    check_safetensors_header(files[WEIGHTS])
    return bundle


def verify_bundle(path: Path, expected_sha256: str | None = None) -> str:
    """`load_bundle`'s checks; returns the bundle's hash."""
    return load_bundle(path, expected_sha256).sha256


def check_safetensors_header(data: bytes) -> None:
    """Refuse anything that is not a safetensors file before a parser reads it."""
    if len(data) < 10:
        raise BundleError(f"{WEIGHTS} is {len(data)} bytes: not a safetensors file")
    (header_length,) = struct.unpack("<Q", data[:8])
    if not 2 <= header_length <= len(data) - 8 or data[8:9] != b"{":
        raise BundleError(
            f"{WEIGHTS} is not a safetensors file (it starts with {data[:4]!r}); bundles "
            "hold weights only as safetensors and are never unpickled"
        )

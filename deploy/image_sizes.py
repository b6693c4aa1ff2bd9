"""Estimate each image's size without a container engine: `python deploy/image_sizes.py`.

An image is the base (`python:3.11-slim-bookworm`) plus the virtualenv its `EXTRAS` install. The
virtualenv is estimated from this environment (`scripts/bootstrap`'s, every extra installed
from the same constraints.txt): the dependency closure of `velocitas[EXTRAS]`, following each
requirement's markers and extras, and the installed size of each distribution's files (their
RECORD). Bytecode (`__pycache__`) is left out: the image sets PYTHONDONTWRITEBYTECODE and pip
compiles none. torch counts as installed here (the CPU build, like the image built with
`TORCH_INDEX_URL`); the default index's CUDA build adds its nvidia-* packages (gigabytes).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

BASE_IMAGE_MB = 130
"""python:3.11-slim-bookworm unpacked, approximately (Debian slim ~75 MB + CPython ~55 MB)."""
IMAGES = {
    "velocitas-gateway (gateway, migrate)": ["gateway"],
    "velocitas-worker (worker, lab)": ["worker", "lab"],
    "velocitas-oracle": ["oracle"],
    "velocitas-analyst": ["analyst"],
}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(root: str, extras: list[str]) -> set[str]:
    """The distributions `root[extras]` installs, by normalised name."""
    seen: set[str] = set()
    pending = [(root, frozenset(extras))]
    while pending:
        name, wanted = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-less optional dependency not installed here
        key = _name(dist.metadata["Name"])
        first = key not in seen
        seen.add(key)
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None:
                needed = first
            else:
                needed = any(marker.evaluate({"extra": e}) for e in wanted) or (
                    first and marker.evaluate({"extra": ""})
                )
            if needed:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return seen


def installed_bytes(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        if "__pycache__" in file.parts:
            continue
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    print(f"{'image':40} {'packages':>8} {'venv MB':>8} {'image MB':>9}  largest")
    for image, extras in IMAGES.items():
        names = closure("velocitas", extras)
        sizes = {name: installed_bytes(name) for name in names}
        venv = sum(sizes.values()) / 1e6
        top = sorted(sizes, key=sizes.__getitem__, reverse=True)[:4]
        largest = ", ".join(f"{n} {sizes[n] / 1e6:.0f}" for n in top)
        print(f"{image:40} {len(names):8d} {venv:8.0f} {venv + BASE_IMAGE_MB:9.0f}  {largest}")


if __name__ == "__main__":
    main()

"""Fixtures for import tests: write small bar files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

HEADER = "opened_at,open,high,low,close,volume"


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """`write_csv(*lines, header=HEADER, name="bars.csv")` -> the file's path."""

    def write(*lines: str, header: str = HEADER, name: str = "bars.csv") -> Path:
        path = tmp_path / name
        path.write_text("\n".join([header, *lines]) + "\n")
        return path

    return write

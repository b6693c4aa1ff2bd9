"""A fresh `VELOCITAS_HOME` needs no `velocitas db upgrade`: the embedded database migrates
itself when a command first attaches to it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
from backtesting.test import GOOG

pytestmark = pytest.mark.slow  # starts a PostgreSQL of its own (initdb)


def _velocitas(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["VELOCITAS_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "velocitas_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_fresh_home_imports_and_lists_without_db_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "goog.csv"
    GOOG.to_csv(path)
    # /tmp keeps the Unix socket paths short whatever the checkout's depth.
    with tempfile.TemporaryDirectory(prefix="vh-") as directory:
        home = Path(directory)
        imported = _velocitas(
            home, "data", "import", str(path), "--symbol", "GOOG", "--timeframe", "1d", "--json"
        )
        assert imported.returncode == 0, imported.stderr
        assert orjson.loads(imported.stdout)["inserted"] == len(GOOG)

        listed = _velocitas(home, "data", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        [series] = orjson.loads(listed.stdout)
        assert (series["symbol"], series["bars"]) == ("GOOG", len(GOOG))

        current = _velocitas(home, "db", "upgrade", "--json")
        assert current.returncode == 0, current.stderr
        assert orjson.loads(current.stdout)["revision"] is not None

"""The engine's, the strategies' and the indicators' tests, run again with every loop as plain
Python (`VELOCITAS_JIT=python`, what `velocitas backtest run` takes on a small run): the same
fixture hashes, the exact ledger's property test against its Decimal replay, the peers'
agreement. numba compiles a subset of Python, so the two modes can only differ where numba's
semantics do (integer wrap-around, summation order); these runs are the proof that they don't
in any function the engine uses."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.processes import REPO, python_env
from velocitas import jit

SUITES = (
    "tests/velocitas/engine",
    "tests/velocitas/strategies",
    "tests/velocitas/test_indicators.py",
)
THIS = "tests/velocitas/engine/test_plain_python.py"  # not again inside its own run


@pytest.mark.slow
def test_engine_strategies_and_indicators_pass_in_plain_python() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         "--ignore", THIS,
         *SUITES],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env({jit.JIT_ENV: "python"}),
        check=False,
        timeout=480,
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None, summary
    assert int(passed.group(1)) > 350, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary

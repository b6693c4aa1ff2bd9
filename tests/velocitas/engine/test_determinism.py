"""Same inputs, same bytes: the result hash is identical in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.velocitas.engine.market import gbm_bars, sma_cross, spec
from velocitas.engine import run_signals

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = """
from velocitas.engine import run_signals
from tests.velocitas.engine.market import gbm_bars, sma_cross, spec
bars = gbm_bars(4000, seed=11)
run_spec = spec(allow_short=True, slippage_bps="2",
                stops={"stop_loss": {"kind": "atr", "value": "3"},
                       "trailing_stop": {"kind": "percent", "value": "0.01"}})
print(run_signals(run_spec, [bars], [sma_cross(bars.close, 10, 50, short=True)]).result_hash)
"""


def _result_hash() -> str:
    bars = gbm_bars(4000, seed=11)
    run_spec = spec(
        allow_short=True,
        slippage_bps="2",
        stops={
            "stop_loss": {"kind": "atr", "value": "3"},
            "trailing_stop": {"kind": "percent", "value": "0.01"},
        },
    )
    return run_signals(run_spec, [bars], [sma_cross(bars.close, 10, 50, short=True)]).result_hash


def test_result_hash_is_identical_in_a_new_process() -> None:
    here = _result_hash()
    env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(here) == 64
    assert other == here


def test_result_hash_changes_when_an_input_changes() -> None:
    bars = gbm_bars(500, seed=11)
    sides = sma_cross(bars.close, 10, 50)
    assert (
        run_signals(spec(), [bars], [sides]).result_hash
        != run_signals(spec(fees={"rate": "0.002"}), [bars], [sides]).result_hash
    )

"""TEST-ONLY, loaded into test workers with `-I tests.reliability.slow_backtests`: real backtest
jobs that first spend `RELIABILITY_BACKTEST_S` seconds (reporting progress), so a test can kill
the worker while one runs. The task, its lifecycle and the engine stay the product's."""

from __future__ import annotations

import os
import time

from worker import backtests
from worker.lifecycle import JobContext, JobOutcome

_execute = backtests.execute_backtest
_SECONDS = float(os.environ.get("RELIABILITY_BACKTEST_S", "0"))
_STEPS = 10


def execute_slowly(context: JobContext) -> JobOutcome:
    for step in range(_STEPS):
        time.sleep(_SECONDS / _STEPS)
        context.progress(0.5 * (step + 1) / _STEPS, force=True)
    return _execute(context)


backtests.execute_backtest = execute_slowly  # the task looks it up when it runs

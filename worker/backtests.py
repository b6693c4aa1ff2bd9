"""Task `worker.backtests.run`: one backtest job, from the stored spec to stored results.

Loads each symbol's bars with binary COPY, records the data snapshot hash and the engine
version with the result so it can be reproduced, runs the engine, draws the self-contained
HTML report (top-level backtests only), and hands trades, equity curve, summary and page to
the lifecycle, which stores them keyed by job id.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from typing import Any

import numpy as np
from celery import Task
from celery.signals import worker_init

from velocitas.db.bar_cache import load_bars_cached
from velocitas.db.equity_copy import copy_equity_chunks
from velocitas.db.reports import StoredReport
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestResult, BacktestSpec, run_backtest
from velocitas.jobs import TASK_RUN_BACKTEST
from velocitas.report import gzip_report, render_html
from worker.app import app
from worker.lifecycle import JobContext, JobOutcome, run_job

log = logging.getLogger(__name__)

_LOADED = 0.4  # share of the progress bar: loading bars, then the engine, then storing
_COMPUTED = 0.8
_RENDERED = 0.9


@worker_init.connect
def warm_up_engine(**_: object) -> None:
    """Compile the engine's kernels and the equity encoder (or load them from numba's cache)
    once in the worker's main process, before the pool forks: no job pays the JIT's seconds
    (nor the HTML report's one-time reading and compressing of plotly.js),
    and every child inherits. Both for read-only bars, as the bar cache serves them (numba
    compiles a read-only array's signature apart: half a minute on a busy machine, in every
    pool process), and for writable ones (the cache off)."""
    n = 64
    close = 100.0 + np.sin(np.arange(n, dtype=np.float64))
    opened_at = np.arange(n, dtype=np.int64) * 3_600_000_000_000
    spec = BacktestSpec.model_validate(
        {
            "symbol": "WARMUP",
            "strategy": {"name": "sma_cross", "params": {"fast": 2, "slow": 5}},
            "timeframe": "1h",
            "start": "1970-01-01T00:00:00Z",
            "end": "1970-01-04T00:00:00Z",
            "initial_cash": "1000",
        }
    )
    try:
        for writable in (False, True):
            prices = [close, close + 1, close - 1, close, np.ones(n)]
            for column in (opened_at, *prices):
                column.flags.writeable = writable
            bars = BarArrays("WARMUP", "1h", opened_at, *prices)
            result = run_backtest(spec, {"WARMUP": bars})
        copy_equity_chunks(uuid.uuid4(), result.equity.opened_at, result.equity.equity, 16)
        # The HTML report's plotly.js: read and compressed once here, not in the first job.
        gzip_report(render_html(result, spec, {"WARMUP": bars}).encode())
    except Exception:  # a worker that cannot warm up still takes jobs; each reports its error
        log.exception("engine warm-up failed")


@app.task(name=TASK_RUN_BACKTEST, bind=True, max_retries=None)
def run_backtest_job(self: Task, job_id: str) -> str:
    return run_job(self, job_id, execute_backtest)


def execute_backtest(context: JobContext) -> JobOutcome:
    spec = BacktestSpec.model_validate(context.spec)
    bars: dict[str, BarArrays] = {}
    hashes: dict[str, str] = {}
    for index, symbol in enumerate(spec.symbols):
        bars[symbol], hashes[symbol] = load_bars_cached(
            symbol, spec.timeframe, spec.start, spec.end
        )
        context.progress(_LOADED * (index + 1) / len(spec.symbols))
    result = run_backtest(spec, bars)
    context.progress(_COMPUTED)
    # A sweep's runs are read as rows of its table, never one by one: no page for each.
    page = html_report(result, spec, bars) if context.parent_id is None else None
    context.progress(_RENDERED)
    return JobOutcome(
        summary=report(result),
        trades=result.trades,
        equity_opened_at_ns=result.equity.opened_at,
        equity=result.equity.equity,
        data_snapshot_hash=combined_snapshot_hash(hashes),
        engine_version=result.engine_version,
        report=page,
    )


def html_report(
    result: BacktestResult, spec: BacktestSpec, bars: dict[str, BarArrays]
) -> StoredReport | None:
    """The self-contained HTML report (as `velocitas backtest run --html` writes it), gzip
    compressed; None, logged, if it cannot be drawn: the backtest's result stands without it."""
    try:
        page = render_html(result, spec, bars).encode()
    except Exception:
        log.exception("the HTML report could not be drawn")
        return None
    # Compressed once here, served as stored: plotly.js's share was compressed once per process.
    return StoredReport(html_gzip=gzip_report(page), size=len(page))


def report(result: BacktestResult) -> dict[str, Any]:
    """The job's summary: the engine's report without the long lists (trades and the equity
    curve have their own paginated routes); counts instead."""
    out = result.to_dict(include_equity=False, include_ledger=False)
    out["metrics"] = {k: _finite(v) for k, v in result.metrics.items()}
    out["trade_count"] = len(result.trades)
    out["fill_count"] = len(result.fills)
    out["bar_count"] = len(result.equity)
    return out


def combined_snapshot_hash(hashes: dict[str, str]) -> str:
    """One symbol: its snapshot hash. Several: a sha256 over `symbol=hash` lines in leg order."""
    if len(hashes) == 1:
        return next(iter(hashes.values()))
    lines = "".join(f"{symbol}={digest}\n" for symbol, digest in hashes.items())
    return hashlib.sha256(lines.encode()).hexdigest()


def _finite(value: float | int | str | None) -> float | int | str | None:
    # JSONB has no NaN or infinity (a Sharpe ratio of a flat curve, say): those become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

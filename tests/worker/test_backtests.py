"""The backtest task's own parts: its summary and its progress reports."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tests.support.waiting import wait_until
from tests.worker.process import EventLog, job_row, new_job
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, run_backtest
from worker import lifecycle
from worker.backtests import report
from worker.lifecycle import JobContext


def test_report_leaves_the_ledger_out_and_counts_it() -> None:
    n = 400
    close = 100.0 + 10 * np.sin(np.arange(n) / 7)
    opened_at = np.arange(n, dtype=np.int64) * 3_600_000_000_000
    bars = BarArrays("X", "1h", opened_at, close, close + 1, close - 1, close, np.ones(n))
    spec = BacktestSpec.model_validate(
        {
            "symbol": "X",
            "strategy": {"name": "sma_cross", "params": {"fast": 3, "slow": 9}},
            "timeframe": "1h",
            "start": "1970-01-01T00:00:00Z",
            "end": "1970-02-01T00:00:00Z",
            "initial_cash": "1000",
        }
    )
    result = run_backtest(spec, {"X": bars})
    summary = report(result)
    full = result.to_dict(include_equity=False)
    assert result.trades  # the ledger left out is not empty
    assert "trades" not in summary
    assert "fills" not in summary
    assert (summary["trade_count"], summary["fill_count"], summary["bar_count"]) == (
        len(result.trades),
        len(result.fills),
        n,
    )
    assert {k: v for k, v in summary.items() if k in full and k != "metrics"} == {
        k: v for k, v in full.items() if k not in ("trades", "fills", "metrics")
    }


def test_progress_is_throttled_from_the_job_start(
    owner: uuid.UUID, events: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "_PROGRESS_INTERVAL_S", 60.0)  # "just started", even loaded
    job_id = new_job(owner, {})
    with session_scope() as session:
        job = job_store.mark_running(session, job_id)
        assert job is not None
        context = JobContext(job.id, job.owner_id, job.kind, {}, job.attempts)
    context.progress(0.4)  # just started: nothing written or sent
    assert job_row(job_id).progress == 0.0
    context.progress(0.5, force=True)
    assert job_row(job_id).progress == 0.5
    monkeypatch.setattr(lifecycle, "_PROGRESS_INTERVAL_S", 0.0)
    context.progress(0.8)
    assert job_row(job_id).progress == 0.8
    wait_until(lambda: len(events.types(job_id)) == 2, timeout=5)
    assert [e.progress for e in events.events if e.job_id == job_id] == [0.5, 0.8]

"""What drawing and storing the HTML report adds to a backtest job, on 1M bars.

    python bench/web_report.py                 # 1,000,000 one-minute bars, 5 jobs of each
    python bench/web_report.py --bars 200000 --runs 5

A top-level backtest's worker draws the self-contained report and stores it gzip-compressed;
a sweep's run goes through the very same work function without it. So the peer is our own job
minus the report: each round runs the worker's own `execute_backtest` and records the outcome
(`worker.lifecycle._record`: summary, trades, equity curve, report, one transaction) on a
fresh embedded PostgreSQL, once as a top-level job and once as a sweep's run, alternating, and
times each from loading the bars to the commit. Then the report's parts on the same result:
drawing (`render_html`), compressing (`gzip_report`, against `gzip.compress` of the whole
page), and the page's sizes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh_stack import fresh_stack
from jobs_latency import SYMBOL, spec, store_bars  # the bench folder's own helpers

from velocitas.db import jobs as job_store
from velocitas.db.accounts import create_user
from velocitas.db.bars import load_bars
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.report import gzip_report, render_html
from worker.backtests import execute_backtest
from worker.lifecycle import JobContext, _record


def _job_s(owner: uuid.UUID, bars: int, *, top_level: bool) -> float:
    """One job's work and its result's commit, as the worker runs them."""
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner, kind=JobKind.BACKTEST, spec=spec(bars)
        )
        job_store.mark_running(session, job.id)
        job_id = job.id
    parent = None if top_level else uuid.uuid4()  # a sweep's run: the same work, no report
    context = JobContext(job_id, owner, JobKind.BACKTEST.value, spec(bars), 1, parent_id=parent)
    started = time.perf_counter()
    outcome = execute_backtest(context)
    assert _record(job_id, outcome)
    seconds = time.perf_counter() - started
    assert (outcome.report is not None) == top_level
    return seconds


def _in_process(bars: int, runs: int) -> dict[str, list[float]]:
    parsed = BacktestSpec.model_validate(spec(bars))
    data = {SYMBOL: load_bars(SYMBOL, "1m", parsed.start, parsed.end)}
    result = run_backtest(parsed, data)
    figures: dict[str, list[float]] = {
        "render": [], "gzip_report": [], "gzip": [], "size": [], "gzip_size": []
    }  # fmt: skip
    for _ in range(runs):
        started = time.perf_counter()
        page = render_html(result, parsed, data).encode()
        drawn = time.perf_counter()
        packed = gzip_report(page)
        packed_at = time.perf_counter()
        assert gzip.compress(page, compresslevel=6, mtime=0)  # the peer: zlib on the whole page
        figures["render"].append(drawn - started)
        figures["gzip_report"].append(packed_at - drawn)
        figures["gzip"].append(time.perf_counter() - packed_at)
        figures["size"].append(len(page))
        figures["gzip_size"].append(len(packed))
    return figures


def _line(name: str, values: list[float], unit: str = "s") -> str:
    return (
        f"{name}: median {statistics.median(values):.3f} {unit} "
        f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    fresh_stack()
    print(f"load before: {os.getloadavg()[0]:.2f}; storing {args.bars:,} bars ...", flush=True)
    store_bars(args.bars)
    with session_scope() as session:
        owner = create_user(session, "bench").user.id
    _job_s(owner, args.bars, top_level=True)  # warm-up: the engine's kernels, plotly.js read
    with_report, without = [], []
    for i in range(args.runs):
        print(f"  round {i + 1} of {args.runs}", flush=True)
        with_report.append(_job_s(owner, args.bars, top_level=True))
        without.append(_job_s(owner, args.bars, top_level=False))
    parts = _in_process(args.bars, args.runs)
    added = [a - b for a, b in zip(with_report, without, strict=True)]
    print(_line(f"backtest job with the report ({args.bars:,} bars)", with_report))
    print(_line("the same job without it (a sweep's run)", without))
    print(_line("added per job (paired rounds)", added))
    print(_line("in process: render_html", parts["render"]))
    print(_line("in process: gzip_report (plotly.js compressed once)", parts["gzip_report"]))
    print(_line("in process: gzip.compress level 6, whole page", parts["gzip"]))
    print(f"page {parts['size'][0]:,} bytes, gzip {parts['gzip_size'][0]:,} bytes")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

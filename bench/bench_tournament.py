"""Tournament benchmark: 9 strategies x 10 symbols x 5 folds on 100,000 bars each, default
parameters, as a job fanned out over 2 Celery workers vs the same backtests one by one in one
process.

    python bench/bench_tournament.py [--symbols 10] [--bars 100000] [--folds 5] [--workers 2]

Everything real, in one run on the same servers (fresh embedded PostgreSQL and Redis under a
temporary VELOCITAS_HOME) and the same bars (seeded random walks of one-minute bars, stored with
COPY):

- one process: `load_bars` of every symbol, then `velocitas.research.tournament.execute` (each
  entry's walk-forward and whole-range trial one after another, then the ranking);
- workers: a `tournament` job row sent to `worker.tournaments.run` until its row says
  succeeded (fan-out, every entry as its own child job, the ranking by the last one), polled
  every 50 ms. The workers are warmed first with a small tournament (numba caches, imports).

Prints both wall times and their ratio. Both sides compute the same report (checked).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fresh_stack import fresh_stack

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2020, 1, 1, tzinfo=UTC)
STRATEGIES: list[Any] = [
    "sma_cross", "ema_cross", "macd_cross", "momentum", "donchian_breakout", "rsi_reversion",
    "bollinger_reversion", "buy_and_hold",
    {"name": "ensemble", "params": {"members": [{"name": "sma_cross"}, {"name": "momentum"},
                                                {"name": "rsi_reversion"}]}},
]  # fmt: skip


def store_bars(symbols: list[str], n: int) -> None:
    """Seeded random walks of n one-minute bars per symbol, written with COPY."""
    from velocitas.db.engine import connect

    opened = np.datetime_as_string(
        np.datetime64("2020-01-01T00:00:00") + np.arange(n) * np.timedelta64(1, "m"), unit="s"
    ).tolist()
    with connect() as conn, conn.cursor() as cur:
        for k, symbol in enumerate(symbols):
            rng = np.random.default_rng(k)
            close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
            rows = "".join(
                f"{symbol}\t1m\t{t}Z\t{c:.6f}\t{c * 1.001:.6f}\t{c * 0.999:.6f}\t{c:.6f}\t1\n"
                for t, c in zip(opened, close.tolist(), strict=True)
            )
            with cur.copy(
                "COPY bar (symbol, timeframe, opened_at, open, high, low, close, volume) FROM STDIN"
            ) as copy:
                copy.write(rows.encode())
        conn.commit()


def spec(symbols: list[str], bars: int, folds: int) -> dict[str, Any]:
    return {
        "strategies": STRATEGIES,
        "symbols": symbols,
        "timeframes": ["1m"],
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=bars)).isoformat(),
        "folds": folds,
        "execution": {"initial_cash": "100000", "fees": {"rate": "0.0005"}},
    }


def start_workers(n: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                "worker",
                "-c",
                "1",
                "-n",
                f"bench{i}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(n)
    ]


def run_job(owner: uuid.UUID, body: dict[str, Any], timeout: float = 3600) -> tuple[float, Any]:
    """Write a tournament job, send it, wait for its row to finish: (seconds, row)."""
    from celery import Celery

    from velocitas.db import jobs as job_store
    from velocitas.db.engine import session_scope
    from velocitas.domain.events import JobKind
    from velocitas.jobs import broker_url, send_job

    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.TOURNAMENT, spec=body)
        job_id = job.id
    sender = Celery(broker=broker_url())
    started = time.perf_counter()
    send_job(sender, job_id, JobKind.TOURNAMENT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            row = job_store.get_job(session, job_id)
            assert row is not None
            if row.status in ("succeeded", "failed", "cancelled"):
                return time.perf_counter() - started, row
        time.sleep(0.05)
    raise TimeoutError(f"tournament {job_id} did not finish in {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = fresh_stack(VELOCITAS_JOBS_QUEUE=f"bench-{uuid.uuid4().hex[:8]}")

    from velocitas.db.accounts import create_user
    from velocitas.db.bars import load_bars
    from velocitas.db.engine import session_scope
    from velocitas.research.tournament import execute
    from velocitas.research.tournament_spec import TournamentSpec

    symbols = [f"SYM{k}" for k in range(args.symbols)]
    print(f"storing {args.symbols} x {args.bars:,} bars ...", flush=True)
    store_bars(symbols, args.bars)
    with session_scope() as session:
        owner = create_user(session, "bench").user.id
    body = spec(symbols, args.bars, args.folds)
    tournament = TournamentSpec.model_validate(body)
    entries = len(STRATEGIES) * args.symbols
    print(f"{len(STRATEGIES)} strategies x {args.symbols} symbols x {args.folds} folds = "
          f"{entries} entries, {entries * (2 * args.folds + 1)} backtests", flush=True)  # fmt: skip

    warm = TournamentSpec.model_validate(spec(symbols[:2], 5_000, 2))
    execute(warm, {(s, "1m"): load_bars(s, "1m", warm.start, warm.end) for s in symbols[:2]})
    print("one process ...", flush=True)
    started = time.perf_counter()
    bars = {(s, "1m"): load_bars(s, "1m", tournament.start, tournament.end) for s in symbols}
    local = execute(tournament, bars)
    sequential = time.perf_counter() - started
    print(f"  {sequential:.1f} s", flush=True)

    workers = start_workers(args.workers, env)
    try:
        run_job(owner, spec(symbols[: args.workers * 2], 5_000, 2))  # warm-up
        print(f"{args.workers} workers ...", flush=True)
        load_before = os.getloadavg()
        parallel, row = run_job(owner, body)
        print(f"  {parallel:.1f} s ({row.status})", flush=True)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
    assert row.status == "succeeded", row.error
    from velocitas.db import jobs as job_store

    with session_scope() as session:
        children = job_store.list_jobs(session, owner, parent_id=row.id, limit=1000)
        spans = [(c.started_at, c.finished_at) for c in children if c.started_at and c.finished_at]
    busy = sum((end - begin).total_seconds() for begin, end in spans)
    window = (max(e for _, e in spans) - min(b for b, _ in spans)).total_seconds()
    print(f"entries in the workers: {busy:.1f} s of entry time in {window:.1f} s from the first "
          f"entry's start to the last one's end (concurrency {busy / window:.2f})")  # fmt: skip
    same = [e["out_of_sample"] for e in row.result_summary["entries"]] == [
        e["out_of_sample"] for e in local["entries"]
    ]
    print(f"tournament {entries} entries: one process {sequential:.1f} s, "
          f"{args.workers} workers {parallel:.1f} s, ratio {sequential / parallel:.2f}x; "
          f"same ranking: {same}")  # fmt: skip
    print(f"PBO {local['overfitting']['pbo']:.2f}, passing DSR: "
          f"{sum(e['deflated_sharpe']['passes'] for e in local['entries'])}/{entries}")  # fmt: skip
    print(f"cores {os.cpu_count()}, load average before the job {load_before}, "
          f"after {os.getloadavg()}")  # fmt: skip


if __name__ == "__main__":
    main()

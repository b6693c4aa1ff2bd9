"""Job latency and throughput of the platform, against Celery's own no-op round trip.

    python bench/jobs_latency.py                                  # the issue's figures
    python bench/jobs_latency.py --jobs 20 --throughput-jobs 4    # quicker

Everything real and in one run on the same servers (fresh embedded PostgreSQL and Redis under a
temporary VELOCITAS_HOME): the gateway under uvicorn, Celery worker processes, HTTP and a
WebSocket client.

- no-op: `send_task` of a task that only publishes on Redis, until this process hears it: the
  queue's own round trip, the floor any job pays.
- job: `POST /backtests` (100,000 one-minute bars, sma_cross) until `job.succeeded` arrives
  over `/ws`: what a user waits.
- engine: `load_bars` + `run_backtest` of the same spec in this process: the work itself.
Goal: (job - no-op) <= engine + load, at the median.
- throughput: K backtests of 1,000,000 bars submitted at once, with 1 and then 2 workers;
  jobs per minute. Goal: 2 workers >= 1.6x one. One worker reads with `BAR_READ_CONNECTIONS`
  as set (default 2: two halves at once); two workers sharing the machine read with
  `--shared-read-connections` (default 1, the setting docs/jobs.md gives for several workers
  on one machine; pass 2 for the old behaviour).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import redis
from celery import Celery
from fresh_stack import fresh_stack
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from velocitas.db.accounts import create_user
from velocitas.db.bars import load_bars
from velocitas.db.engine import connect, session_scope
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.jobs import broker_url

REPO = Path(__file__).resolve().parent.parent
SYMBOL = "BENCH"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
NOOP_TASK = "bench.noop"
NOOP_CHANNEL = "velocitas:bench:noop"


def store_bars(n: int) -> None:
    """A seeded random walk of n one-minute bars, written with COPY."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opened = np.datetime_as_string(
        (np.datetime64("2020-01-01T00:00:00") + np.arange(n) * np.timedelta64(1, "m")), unit="s"
    ).tolist()
    rows = "".join(
        f"{SYMBOL}\t1m\t{opened[i]}Z\t{c:.6f}\t{c * 1.001:.6f}\t{c * 0.999:.6f}\t{c:.6f}\t1\n"
        for i, c in enumerate(close.tolist())
    )
    with connect() as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY bar (symbol, timeframe, opened_at, open, high, low, close, volume) FROM STDIN"
        ) as copy:
            copy.write(rows.encode())
        conn.commit()


def spec(bars: int) -> dict[str, Any]:
    return {
        "symbol": SYMBOL,
        "strategy": {"name": "sma_cross", "params": {"fast": 20, "slow": 100}},
        "timeframe": "1m",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(minutes=bars)).isoformat(),
        "initial_cash": "100000",
    }


class Platform:
    """The gateway and N workers as subprocesses, like `velocitas up`."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.gateway = self._spawn(
            [sys.executable, "-m", "uvicorn", "gateway.main:app", "--port", str(port),
             "--log-level", "warning"]
        )  # fmt: skip
        self.workers: list[subprocess.Popen[bytes]] = []

    def _spawn(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, cwd=REPO, env={**self.env, **(env or {})}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def scale(self, n: int, env: dict[str, str] | None = None) -> None:
        self.stop_workers()
        for i in range(n):
            self.workers.append(
                self._spawn(
                    [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-c", "1",
                     "-n", f"bench{i}-{uuid.uuid4().hex[:6]}@%h", "-I", "bench.noop_tasks",
                     "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                    env,
                )
            )  # fmt: skip

    def stop_workers(self) -> None:
        for w in self.workers:
            w.terminate()
        for w in self.workers:
            w.wait(timeout=60)
        self.workers = []

    def stop(self) -> None:
        self.stop_workers()
        self.gateway.terminate()
        self.gateway.wait(timeout=30)


class Events:
    """Every event of one user, with the instant it arrived, read over the real WebSocket."""

    def __init__(self, url: str, key: str) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self.ws = ws_connect(url, additional_headers={"Authorization": f"Bearer {key}"})
        assert orjson.loads(self.ws.recv()) == {"type": "ready"}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                event = orjson.loads(raw)
                with self.cond:
                    self.arrived[(event["job_id"], event["type"])] = time.perf_counter()
                    self.cond.notify_all()
        except ConnectionClosed:  # the gateway stops at the end of the run
            return

    def wait(self, job_id: str, timeout: float = 600) -> float:
        with self.cond:
            done = self.cond.wait_for(
                lambda: (
                    (job_id, "job.succeeded") in self.arrived
                    or (job_id, "job.failed") in self.arrived
                ),
                timeout,
            )
            if not done or (job_id, "job.failed") in self.arrived:
                raise RuntimeError(f"job {job_id} did not succeed")
            return self.arrived[(job_id, "job.succeeded")]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def noop_round_trips(n: int, env: dict[str, str]) -> list[float]:
    producer = Celery("bench", broker=broker_url(env["REDIS_URL"]), set_as_current=False)
    pubsub = redis.Redis.from_url(env["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(NOOP_CHANNEL)
    times = []
    for _ in range(n + 3):
        token = uuid.uuid4().hex
        started = time.perf_counter()
        producer.send_task(NOOP_TASK, args=[token], queue="velocitas.jobs")
        while True:
            message = pubsub.get_message(timeout=30)
            if message and message["data"].decode() == token:
                break
        times.append(time.perf_counter() - started)
    return times[3:]  # the first round trips warm connections up


def job_latencies(
    n: int, bars: int, base: str, headers: dict[str, str], events: Events
) -> list[float]:
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for i in range(n + 2):
            started = time.perf_counter()
            response = http.post("/backtests", json=spec(bars))
            response.raise_for_status()
            times.append(events.wait(response.json()["id"]) - started)
            if i == 1:
                print(f"  warm-up done, measuring {n} jobs", flush=True)
    return times[2:]


def engine_times(n: int, bars: int) -> list[float]:
    parsed = BacktestSpec.model_validate(spec(bars))
    times = []
    for _ in range(n + 1):
        started = time.perf_counter()
        data = load_bars(SYMBOL, "1m", parsed.start, parsed.end)
        run_backtest(parsed, {SYMBOL: data})
        times.append(time.perf_counter() - started)
    return times[1:]


def busy_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


def throughput(
    k: int, bars: int, base: str, headers: dict[str, str], events: Events
) -> tuple[float, float]:
    """(jobs per minute, cores kept busy on average: every process on the machine)."""
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        busy_before, _ = busy_cpu_seconds()
        started = time.perf_counter()
        ids = [http.post("/backtests", json=spec(bars)).json()["id"] for _ in range(k)]
        last = max(events.wait(job_id, timeout=3600) for job_id in ids)
        busy_after, _ = busy_cpu_seconds()
    wall = last - started
    return k / (wall / 60), (busy_after - busy_before) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--throughput-jobs", type=int, default=8)
    parser.add_argument("--throughput-bars", type=int, default=1_000_000)
    parser.add_argument(
        "--shared-read-connections", type=int, choices=(1, 2), default=1,
        help="BAR_READ_CONNECTIONS of each of the two workers sharing the machine",
    )  # fmt: skip
    args = parser.parse_args()

    env = fresh_stack()
    print(f"storing {max(args.bars, args.throughput_bars):,} bars ...", flush=True)
    store_bars(max(args.bars, args.throughput_bars))
    with session_scope() as session:
        key = create_user(session, "bench").api_key
    headers = {"Authorization": f"Bearer {key}"}

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    platform = Platform(env, port)
    try:
        platform.scale(1)
        deadline = time.monotonic() + 300  # a loaded machine imports the gateway slowly
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        events = Events(f"ws://127.0.0.1:{port}/ws", key)

        print(f"no-op round trip x{args.jobs} ...", flush=True)
        noop = noop_round_trips(args.jobs, env)
        print(f"backtest jobs of {args.bars:,} bars x{args.jobs} ...", flush=True)
        jobs = job_latencies(args.jobs, args.bars, base, headers, events)
        print("engine + bar load in process ...", flush=True)
        work = engine_times(min(args.jobs, 20), args.bars)

        rates, busy = {}, {}
        for n in (1, 2):
            shared = {"BAR_READ_CONNECTIONS": str(args.shared_read_connections)}
            platform.scale(n, shared if n > 1 else None)
            # Warm the new workers (their kernels and bar caches): one job each, at once.
            throughput(n, args.throughput_bars, base, headers, events)
            print(f"throughput: {args.throughput_jobs} x {args.throughput_bars:,} bars, "
                  f"{n} worker(s) ...", flush=True)  # fmt: skip
            rates[n], busy[n] = throughput(
                args.throughput_jobs, args.throughput_bars, base, headers, events
            )
    finally:
        platform.stop()

    ms = 1000.0
    overhead = statistics.median(jobs) - statistics.median(noop)
    print()
    print(f"{'':34}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in (
        ("no-op Celery round trip", noop),
        (f"backtest job, {args.bars:,} bars", jobs),
        ("engine + bar load (in process)", work),
    ):
        print(f"{name:34}{percentile(values, 50) * ms:>10.1f}{percentile(values, 99) * ms:>10.1f}")
    print(f"job - no-op at p50: {overhead * ms:.1f} ms; engine + load p50: "
          f"{statistics.median(work) * ms:.1f} ms; ratio {overhead / statistics.median(work):.2f} "
          f"(goal <= 1.00)")  # fmt: skip
    ratio = rates[2] / rates[1]
    print(f"throughput, {args.throughput_bars:,}-bar jobs: 1 worker {rates[1]:.2f}/min, "
          f"2 workers {rates[2]:.2f}/min, ratio {ratio:.2f} (goal >= 1.60); BAR_READ_CONNECTIONS "
          f"{os.environ.get('BAR_READ_CONNECTIONS', '2')} with 1 worker, "
          f"{args.shared_read_connections} with 2")  # fmt: skip
    cores = os.cpu_count() or 1
    # With one worker the machine already keeps busy[1] cores busy (worker, PostgreSQL, gateway,
    # this process); more workers can at most fill the rest.
    ceiling = min(2.0, cores / busy[1])
    print(f"cores busy (all processes): 1 worker {busy[1]:.2f}, 2 workers {busy[2]:.2f} of "
          f"{cores}; ceiling for 2 workers on this machine ~{ceiling:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()

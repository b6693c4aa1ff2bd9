"""Copilot alert latency: from a bar's upload (`POST /bars`) to its alert over `/ws`, against
Celery's own no-op round trip.

    python bench/alerts_latency.py                 # the issue's figure (200 bars per case)
    python bench/alerts_latency.py --rounds 30     # quicker

Everything real, in one run on the same servers (fresh embedded PostgreSQL and Redis under a
temporary VELOCITAS_HOME): the gateway under uvicorn, one Celery worker process, HTTP and a
WebSocket client. Each round uploads ONE new hourly bar whose close crosses the watched level,
and waits for that bar's `alert.raised` message.

- no-op: `send_task` of a task that only publishes on Redis until this process hears it (the
  queue's floor, as in `bench/jobs_latency.py`);
- one rule: a `cross` rule on the close;
- five rules on the series: the close `cross`, an RSI `cross`, an `sma_cross` `signal`, a
  `regime` rule (which reads 20,000 bars of history) and a `sentiment` rule: the alert is
  published once all five are evaluated.
Reported: the upload alone (its answer), and upload -> alert, p50 and p99.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from velocitas.db.accounts import create_user
from velocitas.db.engine import connect, session_scope
from velocitas.domain.roles import Role

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh_stack import fresh_stack
from jobs_latency import Platform, noop_round_trips, percentile

SYMBOL = "ALERTS"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
HISTORY = 30_000  # hourly bars stored before the rounds (the regime rule reads 20,000)


def _close(i: int) -> float:
    """Alternately below and above 100: every bar crosses the watched level."""
    return 99.0 + 2.0 * (i % 2) + 0.01 * (i % 7)


def store_history() -> None:
    opened = [T0 + timedelta(hours=i) for i in range(HISTORY)]
    rows = "".join(
        f"{SYMBOL}\t1h\t{at.isoformat()}\t{_close(i)}\t{_close(i) + 1}\t{_close(i) - 1}\t"
        f"{_close(i)}\t1\n"
        for i, at in enumerate(opened)
    )
    with connect() as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY bar (symbol, timeframe, opened_at, open, high, low, close, volume) FROM STDIN"
        ) as copy:
            copy.write(rows.encode())
        conn.commit()


class Alerts:
    """The arrival instant of each bar's alert, read over the real WebSocket."""

    def __init__(self, url: str, key: str) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        self.ws = ws_connect(url, additional_headers={"Authorization": f"Bearer {key}"})
        assert orjson.loads(self.ws.recv()) == {"type": "ready"}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = orjson.loads(raw)
                if message.get("type") == "alert.raised":
                    with self.cond:
                        self.arrived.setdefault(message["bar_opened_at"], time.perf_counter())
                        self.cond.notify_all()
        except ConnectionClosed:
            return

    def wait(self, bar: str, timeout: float = 60) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: bar in self.arrived, timeout):
                raise RuntimeError(f"no alert for bar {bar}")
            return self.arrived[bar]


def rounds(
    n: int, start: int, http: httpx.Client, writer: dict[str, str], alerts: Alerts
) -> tuple[list[float], list[float]]:
    """(upload answered, alert arrived) seconds after each upload began; 3 warm-up rounds."""
    answered, arrived = [], []
    for i in range(start, start + n + 3):
        at = T0 + timedelta(hours=i)
        c = _close(i)
        body = f"time,open,high,low,close,volume\n{at.isoformat()},{c},{c + 1},{c - 1},{c},1\n"
        began = time.perf_counter()
        response = http.post(
            "/bars",
            params={"symbol": SYMBOL, "timeframe": "1h"},
            content=body,
            headers={**writer, "Content-Type": "text/csv"},
        )
        done = time.perf_counter()
        response.raise_for_status()
        answered.append(done - began)
        arrived.append(alerts.wait(at.isoformat().replace("+00:00", "Z")) - began)
    return answered[3:], arrived[3:]


def add_rules(http: httpx.Client, headers: dict[str, str], rules: list[dict[str, Any]]) -> None:
    for rule in rules:
        http.post("/alerts/rules", json=rule, headers=headers).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    env = fresh_stack()
    store_history()
    with session_scope() as session:
        watcher = {"Authorization": f"Bearer {create_user(session, 'watcher').api_key}"}
        key = watcher["Authorization"].removeprefix("Bearer ")
        writer_key = create_user(session, "writer", Role.DATA_WRITER).api_key
    writer = {"Authorization": f"Bearer {writer_key}"}

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    platform = Platform(env, port)
    series = {"symbol": SYMBOL, "timeframe": "1h"}
    try:
        platform.scale(1)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        alerts = Alerts(f"ws://127.0.0.1:{port}/ws", key)
        with httpx.Client(base_url=base, timeout=60) as http:
            print(f"no-op round trip x{args.rounds} ...", flush=True)
            noop = noop_round_trips(args.rounds, env)
            add_rules(http, watcher, [{"kind": "cross", **series, "level": "100"}])
            print(f"one rule: {args.rounds} bars ...", flush=True)
            one = rounds(args.rounds, HISTORY, http, writer, alerts)
            add_rules(
                http,
                watcher,
                [
                    {"kind": "cross", **series, "indicator": {"name": "rsi"}, "level": "50"},
                    {"kind": "signal", **series, "strategy": {"name": "sma_cross"}},
                    {"kind": "regime", **series},
                    {"kind": "sentiment", **series, "change": 0.5, "window": "4h"},
                ],
            )
            print(f"five rules: {args.rounds} bars ...", flush=True)
            five = rounds(args.rounds, HISTORY + args.rounds + 3, http, writer, alerts)
    finally:
        platform.stop()

    ms = 1000.0
    print()
    print(f"{'':40}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in (
        ("no-op Celery round trip", noop),
        ("one rule: upload answered", one[0]),
        ("one rule: upload -> alert over /ws", one[1]),
        ("five rules: upload answered", five[0]),
        ("five rules: upload -> alert over /ws", five[1]),
    ):
        print(f"{name:40}{percentile(values, 50) * ms:>10.1f}{percentile(values, 99) * ms:>10.1f}")
    ratio = np.median(one[1]) / np.median(noop)
    print(f"upload -> alert (one rule) / no-op round trip at p50: {ratio:.1f}x")


if __name__ == "__main__":
    main()

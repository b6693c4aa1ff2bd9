"""Tick batches of many sessions at real time x 60, through Redis and the gateway's `/ws`.

    python bench/stream_latency.py                          # 100 sessions, 10 ticks a message
    python bench/stream_latency.py --ticks-per-message 1    # the same stream, unbatched

A simulated publisher loop (the trader's, until it lands; a process of its own, as the trader
is) plays `--sessions` sessions of 1m bars at x60: 60 ticks a second per session, sent every
`ticks-per-message / 60` s as one batch per session through `RedisPublisher`. One WebSocket
client per session (asyncio, this process) subscribes to its `ticks` channel. Latency: from
just before the batch is published (generated) to its arrival at the client, both instants
read from the machine's wall clock (`time.time()`) and joined on (session, first tick).
Also: messages and bytes per second received, batches lost, and how far the publisher fell
behind its clock (how late each round started).
Goal: p99 < 100 ms, nothing lost, no session behind its clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling stream_platform
from stream_platform import Platform, load, start

from velocitas.sessions.publisher import RedisPublisher

TICKS_PER_SECOND = 60  # 1m bars, 60 ticks a bar, real time x 60


def publish(
    redis_url: str, sessions: list[uuid.UUID], seconds: float, per_message: int, results: Any
) -> None:
    """The simulated trader: every session's batch each period; sends back when each batch
    was generated and how late each round started."""
    sent: dict[tuple[str, int], float] = {}
    lag: list[float] = []
    publisher = RedisPublisher(redis_url)
    period = per_message / TICKS_PER_SECOND
    rounds = int(seconds / period)
    start_at = time.perf_counter()
    for r in range(rounds):
        due = start_at + r * period
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        lag.append(max(0.0, time.perf_counter() - due))
        first_ms = 1_700_000_000_000 + r * per_message * 1000
        ticks = [(first_ms + k * 1000, f"{100 + k}.25") for k in range(per_message)]
        for session_id in sessions:
            sent[(str(session_id), first_ms)] = time.time()
            publisher.ticks(session_id, "BTCUSDT", ticks)
    results.put((sent, lag, publisher.dropped))


async def client(
    platform: Platform,
    session_id: uuid.UUID,
    out: dict[str, Any],
    ready: asyncio.Event,
    go: list[int],
) -> None:
    async with connect(platform.ws_url, additional_headers=platform.headers, max_size=None) as ws:
        await ws.recv()  # ready
        await ws.send(
            json.dumps({"type": "subscribe", "session": str(session_id), "channels": ["ticks"]})
        )
        await ws.recv()  # subscribed
        go.append(1)
        if len(go) == len(platform.sessions):
            ready.set()
        while True:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=5)
            except TimeoutError:
                return
            arrived = time.time()
            message = json.loads(text)
            out["arrived"][(message["session"], message["ticks"][0][0])] = arrived
            out["bytes"] += len(text)


async def run(platform: Platform, seconds: float, per_message: int) -> None:
    out: dict[str, Any] = {"arrived": {}, "bytes": 0}
    ready = asyncio.Event()
    go: list[int] = []
    tasks = [asyncio.create_task(client(platform, s, out, ready, go)) for s in platform.sessions]
    await ready.wait()
    results: Any = multiprocessing.Queue()
    trader = multiprocessing.Process(
        target=publish,
        args=(platform.redis_url, platform.sessions, seconds, per_message, results),
    )
    began = time.perf_counter()
    trader.start()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - began - 5  # the clients' final 5 s wait for a straggler
    sent, lag, dropped = results.get()
    trader.join()
    arrived = out["arrived"]
    latencies = sorted(arrived[key] - at for key, at in sent.items() if key in arrived)

    def q(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    lag.sort()
    print(
        f"sessions {len(platform.sessions)}, {per_message} ticks/message, {seconds:g} s:"
        f" {len(latencies)}/{len(sent)} batches received ({len(sent) - len(latencies)} lost,"
        f" {dropped} dropped by the publisher),"
        f" {len(latencies) / wall:,.0f} messages/s, {out['bytes'] / wall / 1000:,.1f} kB/s,"
        f" latency p50 {q(0.5):.1f} ms p99 {q(0.99):.1f} ms max {latencies[-1] * 1000:.1f} ms,"
        f" publisher lag p50 {lag[len(lag) // 2] * 1000:.1f} ms"
        f" p99 {lag[int(0.99 * len(lag))] * 1000:.1f} ms max {lag[-1] * 1000:.1f} ms;"
        f" load {load()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ticks-per-message", type=int, default=10)
    args = parser.parse_args()
    platform = start(args.sessions)
    try:
        asyncio.run(run(platform, args.seconds, args.ticks_per_message))
    finally:
        platform.stop()


if __name__ == "__main__":
    main()

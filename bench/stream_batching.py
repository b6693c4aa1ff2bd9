"""Batching tick messages: the same ticks at 1 and at 10 ticks a message, end to end.

    python bench/stream_batching.py                 # 60,000 ticks of one session each way
    python bench/stream_batching.py --ticks 12000   # quicker

One session's ticks published through `RedisPublisher` as fast as the publisher goes, carried
by Redis and the gateway to one `/ws` client (asyncio, this process), once one tick a message
and once 10 (the default `tick_batch`), on the same servers. Printed for each: messages and
bytes received, the wall time until the last one arrived, messages/s, bytes/s and ticks/s, and
the ratios (expect about 10x fewer messages and about 3x fewer bytes for the same ticks).
The gateway's send queue is made large here (WS_SEND_QUEUE): a burst measures throughput,
not the slow-client rule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling stream_platform
from stream_platform import Platform, load, start

from velocitas.sessions.publisher import RedisPublisher


def publish(platform: Platform, ticks: int, per_message: int) -> None:
    publisher = RedisPublisher(platform.redis_url, timeout_s=5.0)
    session_id = platform.sessions[0]
    for first in range(0, ticks, per_message):
        batch = [
            (1_700_000_000_000 + 1000 * k, f"{100 + k % 97}.12345678")
            for k in range(first, first + per_message)
        ]
        publisher.ticks(session_id, "BTCUSDT", batch)
    assert publisher.dropped == 0


async def one_way(platform: Platform, ticks: int, per_message: int) -> dict[str, float]:
    async with connect(platform.ws_url, additional_headers=platform.headers, max_size=None) as ws:
        await ws.recv()
        await ws.send(
            json.dumps(
                {"type": "subscribe", "session": str(platform.sessions[0]), "channels": ["ticks"]}
            )
        )
        await ws.recv()
        began = time.perf_counter()
        thread = threading.Thread(target=publish, args=(platform, ticks, per_message))
        thread.start()
        received = messages = size = 0
        while received < ticks:
            text = await ws.recv()
            messages += 1
            size += len(text)
            received += len(json.loads(text)["ticks"])
        wall = time.perf_counter() - began
        thread.join()
    return {"messages": messages, "bytes": size, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60_000)
    args = parser.parse_args()
    platform = start(1, WS_SEND_QUEUE="1000000")
    try:
        results = {}
        for per_message in (1, 10):
            r = asyncio.run(one_way(platform, args.ticks, per_message))
            results[per_message] = r
            print(
                f"{per_message:>2} ticks/message: {r['messages']:,} messages,"
                f" {r['bytes'] / 1e6:.2f} MB in {r['wall']:.2f} s:"
                f" {r['messages'] / r['wall']:,.0f} messages/s,"
                f" {r['bytes'] / r['wall'] / 1e6:.2f} MB/s, {args.ticks / r['wall']:,.0f} ticks/s;"
                f" load {load()}",
                flush=True,
            )
        one, ten = results[1], results[10]
        print(
            f"batched/unbatched: {one['messages'] / ten['messages']:.1f}x fewer messages,"
            f" {one['bytes'] / ten['bytes']:.1f}x fewer bytes,"
            f" {one['wall'] / ten['wall']:.1f}x the tick throughput"
        )
    finally:
        platform.stop()


if __name__ == "__main__":
    main()

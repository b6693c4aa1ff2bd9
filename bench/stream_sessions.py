"""100 trading sessions at real time x 60 through ONE real trader process, streamed over `/ws`.

    python bench/stream_sessions.py                       # 100 sessions, 60 s, x60, 1m bars
    python bench/stream_sessions.py --sessions 20 --seconds 30
    python bench/stream_sessions.py --profile /tmp/trader-profile.txt   # where its time goes

Unlike bench/stream_latency.py (a simulated publisher), the ticks here come from the session
engine: embedded PostgreSQL and Redis, the gateway (uvicorn) and one `python -m trader` with
`TRADER_SLOTS` = sessions. Each session (one SMA-cross leg over stored 1m bars of SYN, its own
seed) is created and started over REST; one WebSocket client per session subscribes to its
`ticks` and `state` channels first. Figures:

- publish -> received: a separate process listens on Redis (`session:*:ticks`) and stamps each
  batch with the wall clock when the trader published it (Redis delivers within a fraction of a
  millisecond); the client stamps its arrival; joined on (session, first tick);
- due -> received, and the clock: a batch is due at wall0 + (its last tick - the first bar's
  open) / speed. wall0 (when the trader began the replay) is not visible outside the trader, so
  it is bounded by the session's earliest (arrival - due offset): the figure is how much later
  than its session's best batch a batch arrived, so it includes the trader falling behind its
  clock. "lag at the end" is that figure for each session's last batch (max over sessions);
- the trader's and the gateway's CPU (user + system) over the run, and the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling stream_platform
from stream_platform import REPO, load, start

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest.importer import import_table
from velocitas.synth import DEFAULT_START, synth_bars

SPEED = 60


def listen_redis(redis_url: str, done: Any, results: Any) -> None:
    """Stamp every tick batch published on Redis with the wall clock (the publish instant)."""
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("session:*:ticks")
    stamped: dict[tuple[str, int], float] = {}
    while not done.is_set():
        message = pubsub.get_message(timeout=0.2)
        if message is None:
            continue
        at = time.time()
        body = json.loads(message["data"])
        stamped[(body["session"], body["ticks"][0][0])] = at
    results.put(stamped)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client(
    ws_url: str, headers: dict[str, str], session: str, out: dict[str, Any], ready: list[int]
) -> None:
    async with connect(ws_url, additional_headers=headers, max_size=None) as ws:
        await ws.recv()  # ready
        await ws.send(
            json.dumps({"type": "subscribe", "session": session, "channels": ["ticks", "state"]})
        )
        await ws.recv()  # subscribed
        ready.append(1)
        while True:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=30)
            except TimeoutError:
                out["timeouts"] += 1
                return
            arrived = time.time()
            message = json.loads(text)
            if message["type"] == "ticks":
                out["arrived"][(session, message["ticks"][0][0])] = (
                    arrived,
                    message["ticks"][-1][0],
                )
            elif message["type"] == "session.event" and message["event"]["state"] in (
                "finished",
                "failed",
                "killed",
                "stopped",
            ):
                out["ended"][session] = message["event"]["state"]
                return


def spec(seed: int, bars: int) -> dict[str, Any]:
    return {
        "name": f"bench {seed}", "timeframe": "1m", "speed": SPEED, "seed": seed,
        "start": DEFAULT_START.isoformat(),
        "end": (DEFAULT_START + timedelta(minutes=bars)).isoformat(),
        "legs": [{"symbol": "SYN", "strategy": {"name": "sma_cross",
                                                "params": {"fast": 5, "slow": 20}}}],
        "initial_cash": "100000", "fees": {"rate": "0.001"},
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
    }  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    bars = int(args.seconds)  # one 1m bar a wall second at x60
    platform = start(0)
    import_table(synth_bars(bars + 10, Timeframe.M1, seed=7), symbol="SYN", timeframe="1m")
    with session_scope() as db:
        key = create_user(db, "bench-sessions").api_key
    headers = {"Authorization": f"Bearer {key}"}
    base = platform.ws_url.replace("ws://", "http://").removesuffix("/ws")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRADER_SLOTS": str(args.sessions),
           "TRADER_POLL_S": "0.2", "REDIS_URL": platform.redis_url}  # fmt: skip
    command = [sys.executable, "-m", "trader"]
    if args.profile:  # the same trader under a stack sampler (bench/sampled_trader.py)
        env["SAMPLED_TRADER_OUT"] = str(Path(args.profile).resolve())
        command = [sys.executable, str(REPO / "bench" / "sampled_trader.py")]
    trader = subprocess.Popen(command, cwd=REPO, env=env)
    ids: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for i in range(args.sessions):
                created = await http.post("/sessions", json=spec(i, bars))
                assert created.status_code == 202, created.text
                ids.append(created.json()["id"])
            out: dict[str, Any] = {"arrived": {}, "ended": {}, "timeouts": 0}
            ready: list[int] = []
            tasks = [
                asyncio.create_task(client(platform.ws_url, headers, s, out, ready)) for s in ids
            ]
            while len(ready) < len(ids):
                await asyncio.sleep(0.1)
            results: Any = multiprocessing.Queue()
            done = multiprocessing.Event()
            listener = multiprocessing.Process(
                target=listen_redis, args=(platform.redis_url, done, results)
            )
            listener.start()
            time.sleep(1)  # the listener subscribed
            cpu0 = (cpu_seconds(trader.pid), cpu_seconds(platform.gateway.pid))
            began = time.perf_counter()
            for s in ids:
                (await http.post(f"/sessions/{s}/start")).raise_for_status()
            await asyncio.gather(*tasks)
            wall = time.perf_counter() - began
            cpu1 = (cpu_seconds(trader.pid), cpu_seconds(platform.gateway.pid))
            machine = load()
            done.set()
            published = results.get()
            listener.join()
    finally:
        trader.terminate()
        trader.wait(timeout=60)
        platform.stop()
    report(args, out, published, wall, cpu0, cpu1, machine)


def report(
    args: argparse.Namespace,
    out: dict[str, Any],
    published: dict[tuple[str, int], float],
    wall: float,
    cpu0: tuple[float, float],
    cpu1: tuple[float, float],
    machine: str,
) -> None:
    arrived: dict[tuple[str, int], tuple[float, int]] = out["arrived"]
    transit = sorted(arrived[k][0] - at for k, at in published.items() if k in arrived)
    offsets: dict[str, float] = {}
    for (session, _), (at, last_ms) in arrived.items():
        offset = at - last_ms / 1000 / SPEED
        offsets[session] = min(offset, offsets.get(session, offset))
    late: list[float] = []
    by_session: dict[str, list[tuple[int, float]]] = {}
    for (session, _), (at, last_ms) in arrived.items():
        behind = at - last_ms / 1000 / SPEED - offsets[session]
        late.append(behind)
        by_session.setdefault(session, []).append((last_ms, behind))
    late.sort()
    for rows in by_session.values():
        rows.sort()
    # How far behind its clock each session was a quarter, half, ... of the way through (the
    # max over sessions): a lag that grows means the trader cannot keep up; one that jumps at
    # the start and stays is the sessions' start-up, all claimed at once.
    course = {
        share: max(rows[min(len(rows) - 1, int(share * len(rows)))][1] for rows in
                   by_session.values())
        for share in (0.05, 0.25, 0.5, 0.75, 1.0)
    }  # fmt: skip
    last = {s: rows[-1] for s, rows in by_session.items()}

    def q(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

    ended = sorted(set(out["ended"].values()))
    print(
        f"{args.sessions} sessions x{SPEED} on 1m bars, one trader, {wall:.1f} s: "
        f"{len(arrived)} tick batches received ({len(arrived) / wall:,.0f}/s), "
        f"{len(published)} published, sessions ended {len(out['ended'])} {ended}, "
        f"{out['timeouts']} client timeouts; publish->received p50 {q(transit, 0.5):.1f} ms "
        f"p99 {q(transit, 0.99):.1f} ms max {transit[-1] * 1000:.1f} ms; due->received above "
        f"the session's best p50 {q(late, 0.5):.1f} ms p99 {q(late, 0.99):.1f} ms max "
        f"{late[-1] * 1000:.1f} ms; lag at the end max "
        f"{max(b for _, b in last.values()) * 1000:.1f} ms (max lag at "
        + ", ".join(f"{share:.0%}: {lag:.2f} s" for share, lag in course.items())
        + "); CPU trader "
        f"{(cpu1[0] - cpu0[0]) / wall:.0%} gateway {(cpu1[1] - cpu0[1]) / wall:.0%}; "
        f"load {machine}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--profile", help="sample the trader's stacks, write the counts here")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

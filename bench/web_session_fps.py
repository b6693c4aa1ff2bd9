"""Frames per second of the session view while a replay streams, in Chromium on loopback.

    python bench/web_session_fps.py                    # real time x 60, 20 s measured
    python bench/web_session_fps.py --speed 600 --seconds 30

Real parts: fresh embedded PostgreSQL and Redis, the gateway (uvicorn), a trader
(`python -m trader`, the real session engine, publishing on Redis), Debian's Chromium through
Playwright. A session of `buy_and_hold` on one-minute bars replays at `--speed`; the page
(`#/sessions/ID`) draws the ticks, unpacking each batch over its interval. Measured in the
page over `--seconds`: animation frames per second (every `requestAnimationFrame` callback),
frames longer than 50 ms, and for each tick batch the wait between its arrival on the socket
and the frame that draws its first tick (the app keeps the last 1,000 in
`window.__velocitasTickLatency`). Needs the streaming's RedisPublisher (velocitas.sessions).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh_stack import fresh_stack
from jobs_latency import SYMBOL, T0, store_bars  # the bench folder's own helpers

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope

REPO = Path(__file__).resolve().parent.parent

# Counts frames and long frames from the moment `window.__bench.start()` is called.
_PROBE = """
window.__bench = {frames: 0, long: 0, last: 0, running: false,
  start() { this.frames = 0; this.long = 0; this.last = 0; this.running = true;
            this.t0 = performance.now(); requestAnimationFrame((t) => this.tick(t)); },
  tick(t) { if (!this.running) return; if (this.last && t - this.last > 50) this.long += 1;
            this.last = t; this.frames += 1; requestAnimationFrame((u) => this.tick(u)); },
  stop() { this.running = false; return {frames: this.frames, long: this.long,
            seconds: (performance.now() - this.t0) / 1000}; }};
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = fresh_stack()
    store_bars(args.bars)
    with session_scope() as session:
        key = create_user(session, "bench").api_key
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": REPO}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.main:app", "--port", str(port),
         "--log-level", "warning"], env=env, **quiet,
    )  # fmt: skip
    trader = subprocess.Popen([sys.executable, "-m", "trader"], env=env, **quiet)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        spec = {
            "symbol": SYMBOL, "timeframe": "1m", "start": T0.isoformat(),
            "end": f"{T0.year + 1}-01-01T00:00:00+00:00", "initial_cash": "100000",
            "strategy": {"name": "buy_and_hold", "params": {}}, "speed": args.speed,
            "name": "fps",
        }  # fmt: skip
        created = httpx.post(f"{base}/sessions", json=spec, headers=headers, timeout=60)
        created.raise_for_status()
        session_id = created.json()["id"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.add_init_script(f"sessionStorage.setItem('velocitas.key', {key!r})")
            page.add_init_script(_PROBE)
            page.goto(f"{base}/#/sessions/{session_id}")
            page.locator("#session-chart").wait_for()
            httpx.post(f"{base}/sessions/{session_id}/start", headers=headers).raise_for_status()
            deadline = time.monotonic() + 120
            while not page.evaluate("(window.__velocitasTickLatency || []).length"):
                if time.monotonic() > deadline:
                    raise RuntimeError("no tick reached the page")
                time.sleep(0.2)
            page.evaluate("window.__bench.start()")
            page.evaluate("window.__velocitasTickLatency.length = 0")
            time.sleep(args.seconds)
            frames = page.evaluate("window.__bench.stop()")
            waits = page.evaluate("window.__velocitasTickLatency.slice()")
            ticks = page.evaluate("document.getElementById('session-chart').dataset.ticks")
            browser.close()
    finally:
        for process in (trader, gateway):
            process.terminate()
        for process in (trader, gateway):
            process.wait(timeout=60)
    load = os.getloadavg()
    fps = frames["frames"] / frames["seconds"]
    waits = sorted(max(0.0, w) for w in waits)
    p95 = waits[int(0.95 * (len(waits) - 1))] if waits else float("nan")
    print(f"speed x{args.speed:g}, {frames['seconds']:.1f} s measured, {ticks} ticks drawn")
    print(f"frames per second: {fps:.1f} ({frames['long']} frames over 50 ms)")
    print(f"tick batch arrival -> drawn: median {statistics.median(waits):.1f} ms, "
          f"p95 {p95:.1f} ms, max {waits[-1]:.1f} ms, n={len(waits)}")  # fmt: skip
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

"""The web app's figures in Chromium on loopback, against the real gateway and a Celery worker.

    python bench/web_dashboard.py                      # 200,000-bar backtests, 5 of each
    python bench/web_dashboard.py --bars 1000000 --runs 3

- first contentful paint (Chromium's paint timing) of `/`: the sign-in page, and the dashboard
  (the backtests view, key already in the tab) in a fresh browser context each time, so
  nothing is cached;
- report drawn: the report page is open on a queued backtest; from the moment its WebSocket
  receives `job.succeeded` to the frame after the report (equity and drawdown from
  `…/equity/display`, candles with trade markers, metrics, P&L, the first trades page) is
  built and its charts are given their data, measured in the page (`performance.now()`).

The bench's browser contexts bypass the page's Content-Security-Policy: Playwright's
`wait_for_function` polls with `eval`, which the policy (rightly) refuses.

Everything real (fresh embedded PostgreSQL and Redis under a temporary VELOCITAS_HOME, the
gateway under uvicorn, one worker), Debian's Chromium through Playwright.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh_stack import fresh_stack
from jobs_latency import Platform, spec, store_bars  # the bench folder's own helpers

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope

# Set before the app's modules run: the instant each job event reaches the page's socket, and
# the frame after the report says it is built (its charts draw in that frame's callbacks).
_PROBE = """
window.__bench = {events: {}, drawn: null};
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (m) => {
      try {
        const e = JSON.parse(m.data);
        if (e.type === "job.succeeded") window.__bench.events[e.job_id] = performance.now();
      } catch {}
    });
  }
};
const stamp = () => (window.__bench.drawn = performance.now());
window.addEventListener("velocitas:report-drawn", () =>
  requestAnimationFrame(() => requestAnimationFrame(stamp)));
"""


def fcp(browser: Any, base: str, key: str | None) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    if key:
        page.add_init_script(f"sessionStorage.setItem('velocitas.key', {key!r})")
        page.goto(f"{base}/#/backtests")
        page.locator("#backtest-jobs").wait_for()
    else:
        page.goto(f"{base}/")
        page.get_by_label("API key").wait_for()
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
    value = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    context.close()
    return float(value)


def report_drawn(browser: Any, base: str, key: str, bars: int) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.add_init_script(f"sessionStorage.setItem('velocitas.key', {key!r})")
    page.add_init_script(_PROBE)
    page.goto(f"{base}/#/backtests")
    page.locator("#backtest-jobs").wait_for()
    page.wait_for_function("document.getElementById('socket').dataset.state === 'live'")
    headers = {"Authorization": f"Bearer {key}"}
    job = httpx.post(f"{base}/backtests", json=spec(bars), headers=headers, timeout=60).json()
    page.evaluate(f"location.hash = '#/backtests/{job['id']}'")
    page.wait_for_function("window.__bench.drawn !== null", timeout=600_000)
    received = page.evaluate(f"window.__bench.events[{job['id']!r}]")
    drawn = page.evaluate("window.__bench.drawn")
    # What the report waited for: each request it made after the event, and how long it took.
    fetched = page.evaluate(
        f"""performance.getEntriesByType('resource')
          .filter((r) => r.startTime >= {received})
          .map((r) => [new URL(r.name).pathname.replace({job["id"]!r}, 'ID'),
                       Math.round(r.startTime - {received}), Math.round(r.duration)])"""
    )
    context.close()
    if os.environ.get("BENCH_VERBOSE"):
        print("  requests after job.succeeded [path, start ms, duration ms]:", fetched)
    return float(drawn) - float(received)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
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
    platform = Platform(env, port)
    try:
        platform.scale(1)
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            fcp(browser, base, None)  # warm: the gateway's first answers import lazily
            sign_in = [fcp(browser, base, None) for _ in range(args.runs)]
            dashboard = [fcp(browser, base, key) for _ in range(args.runs)]
            report_drawn(browser, base, key, args.bars)  # warm the worker and the page
            drawn = [report_drawn(browser, base, key, args.bars) for _ in range(args.runs)]
            browser.close()
    finally:
        platform.stop()
    load = os.getloadavg()
    print(f"first contentful paint, sign-in page: median {statistics.median(sign_in):.0f} ms "
          f"(min {min(sign_in):.0f}, max {max(sign_in):.0f}), n={args.runs}")  # fmt: skip
    print(f"first contentful paint, dashboard:    median {statistics.median(dashboard):.0f} ms "
          f"(min {min(dashboard):.0f}, max {max(dashboard):.0f}), n={args.runs}")  # fmt: skip
    print(f"job.succeeded -> report drawn ({args.bars:,} bars): median "
          f"{statistics.median(drawn):.0f} ms (min {min(drawn):.0f}, max {max(drawn):.0f}), "
          f"n={args.runs}")  # fmt: skip
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

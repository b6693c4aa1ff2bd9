"""What the HTTP metrics middleware costs a request (issue 17), in one process, on one app.

The same trivial ASGI app (answers 200 at once) is called directly and through
`velocitas.http_metrics.HttpMetrics`, for a request the router matched (`scope["route"]` set)
and for one answered before routing (the gateway's relayed `POST /predict`: the template is
found by a dictionary lookup). Prints the median over `--rounds` of the per-request time and
the difference: the middleware's own cost, free of the network and the server.

    python bench/bench_http_metrics.py [--requests 200000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from velocitas.http_metrics import HttpMetrics

_START = {"type": "http.response.start", "status": 200, "headers": []}
_BODY = {"type": "http.response.body", "body": b"{}"}


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send(_START)
    await send(_BODY)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def _round(target: Any, scope: dict[str, Any], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await target(dict(scope), _receive, _send)
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    metered = HttpMetrics(app, templates=lambda: ["/predict", "/backtests/{job_id}"])
    relayed = {"type": "http", "method": "POST", "path": "/predict"}
    routed = {
        "type": "http",
        "method": "GET",
        "path": "/backtests/0b5f",
        "route": SimpleNamespace(path="/backtests/{job_id}"),
    }
    for name, scope in (("relayed POST /predict", relayed), ("routed GET /backtests/{id}", routed)):
        bare, timed = [], []
        for _ in range(args.rounds):  # interleaved, so a busy neighbour hits both alike
            bare.append(asyncio.run(_round(app, scope, args.requests)))
            timed.append(asyncio.run(_round(metered, scope, args.requests)))
        b, t = statistics.median(bare) * 1e6, statistics.median(timed) * 1e6
        print(
            f"{name}: bare app {b:.2f} us/request, with HttpMetrics {t:.2f} us/request: "
            f"the middleware adds {t - b:.2f} us ({t / b:.1f}x the bare call)"
        )


if __name__ == "__main__":
    main()

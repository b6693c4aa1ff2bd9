"""The demo's trading-session step, through the running platform: REST, a trader, `/ws`.

`velocitas up` (started by the demo) runs a trader. This step replays the first bars of the
sample data as a session over REST (`POST /sessions`, then `/start`) at 100,000 times real
time with one SMA-cross leg, follows it on the WebSocket (subscribed with `after=0`: the
journal from its first event, then live, no gap), prints the first tick batches, places one
manual market order with a `client_order_id` once ticks flow, waits for `finished`, and prints
the final P&L per leg (`GET /sessions/{id}/pnl`) and the order's status. It counts the fills it
saw on the stream and the ones `GET /sessions/{id}/fills` answers: they must agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from websockets.sync.client import connect

__all__ = ["SessionFailed", "stream_session"]

SHOWN_BATCHES = 3
SESSION_BARS = 300  # 300 one-minute bars at x100,000: 0.18 s of replay clock, a few s of work
SPEED = 100_000
CLIENT_ORDER_ID = "demo-manual-1"
FINAL = ("finished", "failed", "killed", "stopped")


class SessionFailed(Exception):
    """The session step did not do what it should; the message says what."""


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def session_spec(symbol: str, first: datetime, bars: int) -> dict[str, Any]:
    return {
        "name": "demo replay", "timeframe": "1m", "start": _iso(first),
        "end": _iso(first + timedelta(minutes=min(bars, SESSION_BARS))),
        "legs": [{"symbol": symbol, "strategy": {"name": "sma_cross",
                                                 "params": {"fast": 10, "slow": 50}}}],
        "initial_cash": "100000", "fees": {"rate": "0.001"}, "slippage_bps": "2",
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
        "stops": {"stop_loss": {"kind": "percent", "value": "0.01"}},
        "speed": SPEED, "seed": 7,
    }  # fmt: skip


def _call(http: httpx.Client, method: str, path: str, expect: tuple[int, ...], **kw: Any) -> Any:
    response = http.request(method, path, **kw)
    if response.status_code not in expect:
        raise SessionFailed(f"{method} {path} answered {response.status_code}: {response.text}")
    return response.json()


def _all_fills(http: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    fills: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _call(http, "GET", f"/sessions/{session_id}/fills", (200,),
                     params={"after": after, "limit": 500})  # fmt: skip
        fills += page["items"]
        if not page["items"] or page.get("next_after") is None:
            return fills
        after = page["next_after"]


def stream_session(
    base: str,
    headers: dict[str, str],
    symbol: str,
    first: datetime,
    bars: int,
    say: Callable[[str], None],
    timeout: float = 300,
) -> dict[str, Any]:
    """Run the session step against the gateway at `base`; returns what a script checks."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        session = _call(http, "POST", "/sessions", (202,),
                        json=session_spec(symbol, first, bars))  # fmt: skip
        session_id = session["id"]
        say(f"   202 Accepted: session {session_id} ({session['state']}), "
            f"{min(bars, SESSION_BARS):,} bars at x{SPEED:,}")  # fmt: skip
        ws_url = base.replace("http://", "ws://") + "/ws"
        with connect(ws_url, additional_headers=headers, open_timeout=10, max_size=None) as ws:
            if orjson.loads(ws.recv(timeout=10)).get("type") != "ready":
                raise SessionFailed("the WebSocket did not say ready")
            ws.send(orjson.dumps({"type": "subscribe", "session": session_id, "after": 0}).decode())
            _call(http, "POST", f"/sessions/{session_id}/start", (200,))
            seen = _follow(ws, http, session_id, symbol, say, timeout)
        pnl = _call(http, "GET", f"/sessions/{session_id}/pnl", (200,))
        fills = _all_fills(http, session_id)
        orders = _call(http, "GET", f"/sessions/{session_id}/orders", (200,),
                       params={"limit": 500})["items"]  # fmt: skip
    manual = next(o for o in orders if o.get("client_order_id") == CLIENT_ORDER_ID)
    say(f"   order {CLIENT_ORDER_ID}: {manual['status']}"
        + (f" at {manual['filled_price']}" if manual.get("filled_price") else ""))  # fmt: skip
    for row in pnl["legs"]:
        name = f"leg {row['leg']} {row['strategy']}" if row["leg"] is not None else "manual book"
        say(f"   {name} {row['symbol']}: realised {row['realised']}, "
            f"unrealised {row['unrealised']}")  # fmt: skip
    say(f"   total P&L {pnl['total']}, equity {pnl['equity']} (cash {pnl['cash']})")
    say(f"   fills: {seen['fills']} on the stream, {len(fills)} from GET /fills")
    if seen["fills"] != len(fills):
        raise SessionFailed(f"{seen['fills']} fills streamed but GET /fills has {len(fills)}")
    return {
        "id": session_id,
        "state": seen["state"],
        "tick_batches": seen["tick_batches"],
        "fills": seen["fills"],
        "fills_api": len(fills),
        "order": {"client_order_id": CLIENT_ORDER_ID, "status": manual["status"]},
        "pnl": {"legs": pnl["legs"], "total": pnl["total"], "equity": pnl["equity"]},
    }


def _follow(
    ws: Any,
    http: httpx.Client,
    session_id: str,
    symbol: str,
    say: Callable[[str], None],
    timeout: float,
) -> dict[str, Any]:
    """Read the stream until the session ends: tick batches shown, the order placed."""
    seen: dict[str, Any] = {"tick_batches": 0, "fills": 0, "state": None}
    ordered = False
    deadline = time.monotonic() + timeout
    while seen["state"] is None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SessionFailed(f"session {session_id} did not end within {timeout:.0f} s")
        try:
            message = orjson.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if message.get("session") != session_id:
            continue
        if message["type"] == "ticks":
            seen["tick_batches"] += 1
            if seen["tick_batches"] <= SHOWN_BATCHES:
                ticks = message["ticks"]
                say(f"   ticks {message['symbol']}: {ticks[0]} .. {ticks[-1]} "
                    f"({len(ticks)} a message)")  # fmt: skip
            if not ordered:
                ordered = True
                order = _call(http, "POST", f"/sessions/{session_id}/orders", (200, 202), json={
                    "symbol": symbol, "side": "buy", "type": "market", "quantity": "0.5",
                    "client_order_id": CLIENT_ORDER_ID})  # fmt: skip
                say(f"   manual order {CLIENT_ORDER_ID}: buy 0.5 {symbol} at market "
                    f"({order['status']})")  # fmt: skip
        elif message["type"] == "session.event":
            event = message["event"]
            if event["type"] == "fill":
                seen["fills"] += 1
            if event["type"].startswith("order.") and event.get("origin") == "manual":
                say(f"   {event['type']} {event.get('client_order_id')} at {event['at']}")
            if event["type"] == "session.state" and event["state"] in FINAL:
                seen["state"] = event["state"]
                say(f"   session {event['state']} ({event.get('reason')})")
    return seen

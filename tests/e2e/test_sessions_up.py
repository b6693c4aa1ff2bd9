"""Trading sessions end to end through `velocitas up --traders 1`: real gateway, trader, worker,
PostgreSQL and Redis processes; the client only speaks REST and `/ws`.

One session is created, started, followed on the WebSocket (tick batches and journaled events),
given a manual order (retried with its client_order_id: one order), then killed: `killed`, and
every position flat. Another, at speed max, must give the fills of `POST /backtests` with its
`backtest_spec()` (the bridge path model) through the worker.
"""

from __future__ import annotations

import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.ports import free_port
from tests.support.processes import python_env, start_process, stop_processes
from tests.support.waiting import wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest.importer import import_table
from velocitas.sessions.spec import SessionSpec
from velocitas.synth import DEFAULT_START, synth_bars

BARS = 3_000
SYMBOL = "SYN"


@dataclass
class Stack:
    base: str
    http: httpx.Client
    headers: dict[str, str]

    def ws(self) -> ClientConnection:
        url = self.base.replace("http://", "ws://") + "/ws"
        ws = connect(url, additional_headers=self.headers, open_timeout=10, max_size=None)
        assert orjson.loads(ws.recv(timeout=10))["type"] == "ready"
        return ws


@pytest.fixture
def stack(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """`velocitas up --workers 1 --traders 1` over this test's database, with sample bars of
    SYN (the demo's generator) and a user."""
    import_table(synth_bars(BARS, Timeframe.M1, seed=7), symbol=SYMBOL, timeframe="1m")
    with session_scope() as db:
        key = create_user(db, f"e2e-{uuid.uuid4().hex[:8]}").api_key
    port = free_port()
    env = python_env({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "VELOCITAS_HOME": str(tmp_path), "TRADER_POLL_S": "0.2",
        "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
    })  # fmt: skip
    argv = [sys.executable, "-m", "velocitas_cli.main", "up", "--workers", "1",
            "--traders", "1", "--port", str(port)]  # fmt: skip
    up = start_process(argv, env, tmp_path / "up.log")
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        wait_until(lambda: _ready(base, up), 240, "the gateway's /ready", interval=0.3)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            yield Stack(base, http, headers)
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        finally:
            stop_processes(up)


def _ready(base: str, up: Any) -> bool:
    assert up.poll() is None, "velocitas up exited"
    try:
        return httpx.get(f"{base}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _spec(bars: int, speed: float | str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "e2e", "timeframe": "1m", "speed": speed, "seed": 11,
        "start": DEFAULT_START.isoformat(),
        "end": (DEFAULT_START + timedelta(minutes=bars)).isoformat(),
        "legs": [{"symbol": SYMBOL, "strategy": {"name": "sma_cross",
                                                 "params": {"fast": 5, "slow": 20}}}],
        "initial_cash": "100000", "fees": {"rate": "0.001"}, "slippage_bps": "1",
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
        "stops": {"stop_loss": {"kind": "percent", "value": "0.01"},
                  "trailing_stop": {"kind": "percent", "value": "0.02"}},
        **extra,
    }  # fmt: skip


def _until(
    ws: ClientConnection, found: Callable[[dict[str, Any]], bool], seen: list[dict[str, Any]]
) -> dict[str, Any]:
    """Messages into `seen` until one satisfies `found` (which it returns)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        message: dict[str, Any] = orjson.loads(ws.recv(timeout=deadline - time.monotonic()))
        seen.append(message)
        if found(message):
            return message
    raise AssertionError(f"not seen within 120 s; last messages: {seen[-5:]}")


def _event(message: dict[str, Any], kind: str, **fields: Any) -> bool:
    if message["type"] != "session.event" or message["event"]["type"] != kind:
        return False
    return all(message["event"].get(k) == v for k, v in fields.items())


def _pages(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = -1 if "backtests" in path else 0
    while True:
        page = http.get(path, params={"after": after, "limit": 1000}).raise_for_status().json()
        items += page["items"]
        if page["next_after"] is None:
            return items
        after = page["next_after"]


@pytest.mark.slow  # boots the whole platform
@pytest.mark.worker_processes
def test_a_session_streams_trades_by_hand_and_dies_flat_through_up(stack: Stack) -> None:
    http = stack.http
    created = http.post("/sessions", json=_spec(BARS, 3000))
    assert created.status_code == 202, created.text
    session_id = created.json()["id"]
    assert created.headers["Location"] == f"/sessions/{session_id}"
    seen: list[dict[str, Any]] = []
    with stack.ws() as ws:
        ws.send(orjson.dumps({"type": "subscribe", "session": session_id, "after": 0}).decode())
        assert _until(ws, lambda m: m["type"] == "subscribed", seen)["session"] == session_id
        assert http.post(f"/sessions/{session_id}/start").json()["state"] == "running"
        _until(ws, lambda m: _event(m, "session.state", state="running"), seen)
        batch = _until(ws, lambda m: m["type"] == "ticks", seen)
        assert batch["symbol"] == SYMBOL
        assert len(batch["ticks"]) == 10
        assert all(Decimal(price) > 0 for _, price in batch["ticks"])
        _until(ws, lambda m: _event(m, "bar.closed"), seen)

        assert not [p for p in http.get(f"/sessions/{session_id}/positions").json()
                    if p["leg"] is None]  # fmt: skip
        order = {"symbol": SYMBOL, "side": "buy", "type": "market", "quantity": "0.25",
                 "client_order_id": "e2e-1"}  # fmt: skip
        placed = http.post(f"/sessions/{session_id}/orders", json=order)
        assert placed.status_code == 202, placed.text
        again = http.post(f"/sessions/{session_id}/orders", json=order)
        assert again.status_code == 200
        assert again.json()["id"] == placed.json()["id"]
        filled = _until(
            ws, lambda m: _event(m, "fill") and m["event"]["order_id"] == placed.json()["id"], seen
        )
        assert filled["event"]["leg"] is None
        assert filled["event"]["quantity"] == "0.25"

        manual = [p for p in http.get(f"/sessions/{session_id}/positions").json()
                  if p["leg"] is None]  # fmt: skip
        assert [(p["side"], p["quantity"]) for p in manual] == [("long", "0.25")]
        assert manual[0]["average_price"] == filled["event"]["price"]
        orders = http.get(f"/sessions/{session_id}/orders").json()["items"]
        assert [o["status"] for o in orders if o["client_order_id"] == "e2e-1"] == ["filled"]
        _until(ws, lambda m: _event(m, "pnl") and any(
            leg["leg"] is None for leg in m["event"]["legs"]), seen)  # fmt: skip

        killed = http.post(f"/sessions/{session_id}/kill", json={"reason": "e2e"})
        assert killed.json()["state"] == "killed"
        _until(ws, lambda m: _event(m, "risk.killed"), seen)

    assert http.get(f"/sessions/{session_id}").json()["state"] == "killed"
    positions = http.get(f"/sessions/{session_id}/positions").json()
    assert positions
    assert {p["side"] for p in positions} == {"flat"}
    assert {Decimal(p["quantity"]) for p in positions} == {Decimal(0)}
    assert http.post(f"/sessions/{session_id}/resume").status_code == 409
    journaled = http.get(f"/sessions/{session_id}/events", params={"limit": 10_000}).json()
    streamed = [m["seq"] for m in seen if m["type"] == "session.event"]
    assert streamed == list(range(1, len(streamed) + 1))  # after=0: no gap, no duplicate
    assert len(streamed) < 10_000
    assert [e["seq"] for e in journaled["events"]][: len(streamed)] == streamed
    assert [e["event"] for e in journaled["events"]][: len(streamed)] == [
        m["event"] for m in seen if m["type"] == "session.event"
    ]


@pytest.mark.slow  # boots the whole platform
@pytest.mark.worker_processes
def test_a_session_at_max_speed_fills_as_the_backtest_job_through_up(stack: Stack) -> None:
    http = stack.http
    body = _spec(BARS, "max")
    session_id = http.post("/sessions", json=body).raise_for_status().json()["id"]
    http.post(f"/sessions/{session_id}/start").raise_for_status()
    spec = SessionSpec.model_validate(body).backtest_spec()
    job = http.post("/backtests", json=spec.model_dump(mode="json")).raise_for_status().json()

    def ended(path: str, field: str, final: set[str]) -> bool:
        return http.get(path).raise_for_status().json()[field] in final

    wait_until(lambda: ended(f"/sessions/{session_id}", "state", {"finished", "failed"}), 240,
               "the session to end", interval=0.5)  # fmt: skip
    wait_until(lambda: ended(f"/backtests/{job['id']}", "status", {"succeeded", "failed"}), 240,
               "the backtest to end", interval=0.5)  # fmt: skip
    assert http.get(f"/sessions/{session_id}").json()["state"] == "finished"
    report = http.get(f"/backtests/{job['id']}").json()
    assert report["status"] == "succeeded", report.get("error")

    fills = _pages(http, f"/sessions/{session_id}/fills")
    trades = _pages(http, f"/backtests/{job['id']}/trades")
    assert len(trades) > 5
    assert len(fills) == 2 * len(trades)  # one entry and one exit fill a round trip
    from_fills = [
        (entry["price"], exit_["price"], entry["quantity"],
         str(Decimal(entry["fee"]) + Decimal(exit_["fee"])), exit_["reason"])
        for entry, exit_ in zip(fills[::2], fills[1::2], strict=True)
    ]  # fmt: skip
    from_trades = [
        (t["entry_price"], t["exit_price"], t["quantity"], t["fees"], t["exit_reason"])
        for t in trades
    ]
    assert [tuple(Decimal(x) for x in row[:4]) + row[4:] for row in from_fills] == [
        tuple(Decimal(x) for x in row[:4]) + row[4:] for row in from_trades
    ]
    pnl = http.get(f"/sessions/{session_id}/pnl").json()
    assert Decimal(pnl["equity"]) == Decimal(report["summary"]["final_equity"])

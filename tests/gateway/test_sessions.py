"""`/sessions` routes: creation (202) and its 422s, owner scoping (404), the state machine
(journaled transitions, 409), the admin's kill switch (403 otherwise), idempotent manual orders,
and the read models built from the journal (fills, positions, P&L summed exactly)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from gateway.deps import session_publisher
from tests.gateway.conftest import T0, Account, store_bars
from velocitas.db.engine import session_scope
from velocitas.db.journal import append_events
from velocitas.db.journal_copy import EncodedEvent, append_encoded
from velocitas.domain.roles import Role
from velocitas.domain.session_events import (
    LegPnl,
    PnlSnapshot,
    PositionChanged,
    TradeEvent,
    parse_session_event,
)
from velocitas.sessions.encoding import RangeText, bars_closed_json
from velocitas.sessions.publisher import RecordingPublisher

SPEC: dict[str, Any] = {
    "name": "sma on btc",
    "legs": [
        {"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}}},
        {"symbol": "ETHUSDT", "strategy": {"name": "sma_cross", "params": {"fast": 3, "slow": 9}}},
    ],
    "timeframe": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-05T00:00:00Z",
    "initial_cash": "10000",
    "speed": "max",
    "seed": 7,
}
ORDER: dict[str, Any] = {"symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": "0.5"}


def _bars() -> None:
    store_bars("BTCUSDT")
    store_bars("ETHUSDT")


def _created(client: TestClient, owner: Account, **changes: Any) -> dict[str, Any]:
    response = client.post("/sessions", json=SPEC | changes, headers=owner.headers)
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def _running(client: TestClient, owner: Account) -> dict[str, Any]:
    session = _created(client, owner)
    started = client.post(f"/sessions/{session['id']}/start", headers=owner.headers)
    assert started.status_code == 200, started.text
    return started.json()  # type: ignore[no-any-return]


def _events(client: TestClient, owner: Account, session_id: str, after: int = 0) -> Any:
    response = client.get(
        f"/sessions/{session_id}/events", params={"after": after}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def _loc(response: Any) -> list[Any]:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]  # type: ignore[no-any-return]


def test_create_session_answers_202_with_location_and_the_created_session(
    client: TestClient, alice: Account
) -> None:
    _bars()
    response = client.post("/sessions", json=SPEC, headers=alice.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["Location"] == f"/sessions/{body['id']}"
    assert (body["name"], body["state"], body["last_seq"], body["progress"]) == (
        "sma on btc", "created", 0, 0.0,
    )  # fmt: skip
    assert body["spec"]["speed"] == "max"
    assert body["spec"]["seed"] == 7
    assert client.get(response.headers["Location"], headers=alice.headers).json() == body


def test_create_session_names_an_unnamed_session_after_its_legs(
    client: TestClient, alice: Account
) -> None:
    _bars()
    body = _created(client, alice, name="")
    assert body["name"] == "sma_cross on BTCUSDT, sma_cross on ETHUSDT"


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"legs": [SPEC["legs"][0] | {"symbol": "NOPE"}]}, ["body", "legs", 0, "symbol"]),
        ({"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"},
         ["body", "legs", 0, "symbol"]),
        ({"legs": [SPEC["legs"][0], SPEC["legs"][1] | {"symbol": "SOLUSDT"}]},
         ["body", "legs", 1, "symbol"]),
        ({"legs": [{"symbol": "BTCUSDT",
                    "strategy": {"name": "sma_cross", "params": {"fast": -3, "slow": 20}}}]},
         ["body", "legs", 0, "strategy", "params", "fast"]),
        ({"speed": 0}, ["body", "speed"]),
        ({"speed": "fast"}, ["body", "speed"]),
        ({"speed": 2e6}, ["body", "speed"]),
    ],
)  # fmt: skip
def test_create_session_refuses_bad_input_with_422_naming_the_field(
    client: TestClient, alice: Account, changes: dict[str, Any], loc: list[Any]
) -> None:
    _bars()
    response = client.post("/sessions", json=SPEC | changes, headers=alice.headers)
    assert _loc(response)[: len(loc)] == loc
    assert client.get("/sessions", headers=alice.headers).json()["items"] == []


def test_create_session_refuses_nan_and_infinity(client: TestClient, alice: Account) -> None:
    _bars()
    for text in ('"NaN"', "NaN", "Infinity"):
        body = (
            '{"legs": [{"symbol": "BTCUSDT", "strategy": {"name": "sma_cross"}}], '
            '"timeframe": "1h", "start": "2024-01-01T00:00:00Z", '
            f'"end": "2024-01-05T00:00:00Z", "initial_cash": {text}}}'
        )
        response = client.post(
            "/sessions",
            content=body,
            headers=alice.headers | {"Content-Type": "application/json"},
        )
        assert _loc(response) == ["body", "initial_cash"], text


def test_sessions_are_listed_newest_first_in_pages_and_only_the_owners(
    client: TestClient, alice: Account, bob: Account
) -> None:
    _bars()
    mine = [_created(client, alice, name=f"s{i}")["id"] for i in range(3)]
    _created(client, bob)
    first = client.get("/sessions", params={"limit": 2}, headers=alice.headers).json()
    second = client.get(
        "/sessions", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers
    ).json()
    listed = [s["id"] for s in first["items"] + second["items"]]
    assert listed == mine[::-1]
    assert second["next_cursor"] is None
    running = client.get("/sessions", params={"state": "running"}, headers=alice.headers)
    assert running.json()["items"] == []


def test_another_users_session_answers_404_on_every_route(
    client: TestClient, alice: Account, bob: Account
) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    for method, path in [
        ("GET", ""), ("POST", "/pause"), ("POST", "/kill"), ("GET", "/orders"),
        ("GET", "/fills"), ("GET", "/positions"), ("GET", "/pnl"), ("GET", "/events"),
    ]:  # fmt: skip
        response = client.request(method, base + path, headers=bob.headers)
        assert response.status_code == 404, (method, path, response.text)
    placed = client.post(f"{base}/orders", json=ORDER, headers=bob.headers)
    assert placed.status_code == 404
    assert client.get(base, headers=alice.headers).json()["state"] == "running"
    assert _events(client, alice, session["id"])["last_seq"] == 1  # bob changed nothing
    missing = client.get(f"/sessions/{uuid.uuid4()}", headers=alice.headers)
    assert missing.status_code == 404


def test_transitions_are_journaled_with_consecutive_seq_and_their_reasons(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _created(client, alice)
    base = f"/sessions/{session['id']}"
    states = []
    for action in ("start", "pause", "resume", "pause", "stop"):
        response = client.post(f"{base}/{action}", headers=alice.headers)
        assert response.status_code == 200, response.text
        states.append(response.json()["state"])
    assert states == ["running", "paused", "running", "paused", "stopped"]
    journal = _events(client, alice, session["id"])
    assert [e["seq"] for e in journal["events"]] == [1, 2, 3, 4, 5]
    assert journal["last_seq"] == 5
    events = [e["event"] for e in journal["events"]]
    assert [(e["previous"], e["state"]) for e in events] == [
        ("created", "running"), ("running", "paused"), ("paused", "running"),
        ("running", "paused"), ("paused", "stopped"),
    ]  # fmt: skip
    assert all(e["type"] == "session.state" and e["reason"].endswith("by alice") for e in events)
    assert events[0]["at"] == "2024-01-01T00:00:00Z"  # the replay clock, not the wall clock
    assert all(e["session"] == session["id"] for e in journal["events"])
    tail = _events(client, alice, session["id"], after=3)
    assert [e["seq"] for e in tail["events"]] == [4, 5]
    stopped = client.get(base, headers=alice.headers).json()
    assert (stopped["state"], stopped["reason"], stopped["last_seq"]) == (
        "stopped", "stopped by alice", 5,
    )  # fmt: skip


def test_a_transition_carries_the_callers_reason(client: TestClient, alice: Account) -> None:
    _bars()
    session = _running(client, alice)
    response = client.post(
        f"/sessions/{session['id']}/kill", json={"reason": "fat finger"}, headers=alice.headers
    )
    assert (response.json()["state"], response.json()["reason"]) == ("killed", "fat finger")
    assert _events(client, alice, session["id"])["events"][-1]["event"]["reason"] == "fat finger"


@pytest.mark.parametrize(
    ("path", "action"),
    [
        (["start", "pause"], "pause"),
        (["start"], "resume"),
        (["start"], "start"),
        ([], "pause"),
        ([], "stop"),
        (["start", "stop"], "resume"),
        (["start", "stop"], "kill"),
        (["kill"], "start"),
        (["start", "kill"], "stop"),
    ],
)
def test_a_transition_the_state_forbids_answers_409_and_journals_nothing(
    client: TestClient, alice: Account, path: list[str], action: str
) -> None:
    _bars()
    session = _created(client, alice)
    base = f"/sessions/{session['id']}"
    for step in path:
        assert client.post(f"{base}/{step}", headers=alice.headers).status_code == 200
    before = client.get(base, headers=alice.headers).json()
    response = client.post(f"{base}/{action}", headers=alice.headers)
    assert response.status_code == 409, response.text
    assert f"cannot {action}" in response.json()["detail"]
    assert before["state"] in response.json()["detail"]
    assert client.get(base, headers=alice.headers).json() == before


def test_kill_all_is_admin_only_and_kills_every_users_running_or_paused_session(
    client: TestClient, alice: Account, bob: Account, make_account: Any
) -> None:
    _bars()
    admin = make_account("root", Role.ADMIN)
    running = _running(client, alice)
    paused = _running(client, bob)
    client.post(f"/sessions/{paused['id']}/pause", headers=bob.headers)
    created = _created(client, alice)
    refused = client.post("/sessions/kill-all", headers=alice.headers)
    assert refused.status_code == 403, refused.text
    assert "'admin'" in refused.json()["detail"]
    assert client.get(f"/sessions/{running['id']}", headers=alice.headers).json()["state"] == (
        "running"
    )
    response = client.post("/sessions/kill-all", headers=admin.headers)
    assert response.status_code == 200, response.text
    killed = response.json()
    assert {s["id"] for s in killed} == {running["id"], paused["id"]}
    assert {s["state"] for s in killed} == {"killed"}
    for owner, session in ((alice, running), (bob, paused)):
        last = _events(client, owner, session["id"])["events"][-1]["event"]
        assert (last["state"], last["reason"]) == ("killed", "global kill switch by root")
    untouched = client.get(f"/sessions/{created['id']}", headers=alice.headers).json()
    assert untouched["state"] == "created"


def test_manual_order_is_placed_new_and_journaled(client: TestClient, alice: Account) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    order = ORDER | {"type": "limit", "limit_price": "101.25", "stop_loss": "95",
                     "take_profit": "120.5", "trailing_stop": "2.5"}  # fmt: skip
    response = client.post(f"{base}/orders", json=order, headers=alice.headers)
    assert response.status_code == 202, response.text
    placed = response.json()
    assert (placed["status"], placed["origin"], placed["leg"], placed["side"]) == (
        "new", "manual", None, "buy",
    )  # fmt: skip
    assert Decimal(placed["quantity"]) == Decimal("0.5")
    assert Decimal(placed["limit_price"]) == Decimal("101.25")
    last = _events(client, alice, session["id"])["events"][-1]
    assert last["seq"] == 2
    assert last["event"]["type"] == "order.new"
    assert last["event"]["order_id"] == placed["id"]
    assert last["event"]["limit_price"] == "101.25"
    assert last["event"]["trailing_stop"] == "2.5"
    listed = client.get(f"{base}/orders", headers=alice.headers).json()
    assert [o["id"] for o in listed["items"]] == [placed["id"]]


def test_the_same_client_order_id_twice_creates_one_order(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    order = ORDER | {"client_order_id": "my-order-1"}
    first = client.post(f"{base}/orders", json=order, headers=alice.headers)
    again = client.post(f"{base}/orders", json=order, headers=alice.headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert len(client.get(f"{base}/orders", headers=alice.headers).json()["items"]) == 1
    journal = _events(client, alice, session["id"])
    assert [e["event"]["type"] for e in journal["events"]] == ["session.state", "order.new"]
    other = client.post(f"{base}/orders", json=order | {"quantity": "2"}, headers=alice.headers)
    assert other.status_code == 409, other.text
    assert "my-order-1" in other.json()["detail"]


def test_orders_are_paged_newest_first(client: TestClient, alice: Account) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    ids = [
        client.post(f"{base}/orders", json=ORDER, headers=alice.headers).json()["id"]
        for _ in range(3)
    ]
    first = client.get(f"{base}/orders", params={"limit": 2}, headers=alice.headers).json()
    rest = client.get(
        f"{base}/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers
    ).json()
    assert {o["id"] for o in first["items"] + rest["items"]} == set(ids)
    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "NaN"}, "quantity"),
        ({"quantity": "Infinity"}, "quantity"),
        ({"type": "limit"}, "limit_price"),
        ({"limit_price": "100"}, "limit_price"),
        ({"type": "limit", "limit_price": "0"}, "limit_price"),
        ({"stop_loss": "-5"}, "stop_loss"),
        ({"symbol": "SOLUSDT"}, "symbol"),
        ({"side": "hold"}, "side"),
        ({"type": "stop"}, "type"),
        ({"client_order_id": ""}, "client_order_id"),
    ],
)
def test_a_bad_order_answers_422_naming_the_field_and_creates_nothing(
    client: TestClient, alice: Account, changes: dict[str, Any], field: str
) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    response = client.post(f"{base}/orders", json=ORDER | changes, headers=alice.headers)
    assert _loc(response)[:2] == ["body", field]
    assert client.get(f"{base}/orders", headers=alice.headers).json()["items"] == []


def test_an_order_on_a_session_not_running_or_paused_answers_409(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _created(client, alice)
    base = f"/sessions/{session['id']}"
    assert client.post(f"{base}/orders", json=ORDER, headers=alice.headers).status_code == 409
    client.post(f"{base}/start", headers=alice.headers)
    client.post(f"{base}/pause", headers=alice.headers)
    assert client.post(f"{base}/orders", json=ORDER, headers=alice.headers).status_code == 202
    client.post(f"{base}/stop", headers=alice.headers)
    refused = client.post(f"{base}/orders", json=ORDER, headers=alice.headers)
    assert refused.status_code == 409
    assert "stopped" in refused.json()["detail"]
    assert len(client.get(f"{base}/orders", headers=alice.headers).json()["items"]) == 1


def test_events_return_a_compact_run_of_quiet_bars(client: TestClient, alice: Account) -> None:
    """Speed max journals quiet bars as one `bars.closed` (through COPY, as the trader does);
    `/events` answers it as its contract, values as decimal strings."""
    _bars()
    session = _running(client, alice)
    hour = 3_600_000_000_000
    opened = np.array([0, hour], np.int64) + int(T0.timestamp()) * 1_000_000_000
    ohlcv = np.array([[100.5, 101.25], [102, 103], [99, 100], [101.5, 102.5], [3, 0.125]])
    text = RangeText(opened, opened + hour, ohlcv[:, :, None], [0])
    at, json = bars_closed_json(text, "BTCUSDT", "1h", 0, slice(0, 2))
    with session_scope() as db:
        append_encoded(db, uuid.UUID(session["id"]), [EncodedEvent("bars.closed", 1, at, json)])
    last = _events(client, alice, session["id"])["events"][-1]
    assert last["event"] == {
        "type": "bars.closed", "v": 1, "symbol": "BTCUSDT", "timeframe": "1h",
        "opened_at": ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"],
        "open": ["100.50000000", "101.25000000"], "high": ["102.00000000", "103.00000000"],
        "low": ["99.00000000", "100.00000000"], "close": ["101.50000000", "102.50000000"],
        "volume": ["3.00000000", "0.12500000"], "at": "2024-01-01T02:00:00Z",
    }  # fmt: skip
    assert parse_session_event(last["event"]).type == "bars.closed"
    assert client.get(f"/sessions/{session['id']}/fills", headers=alice.headers).json() == {
        "items": [], "next_after": None
    }  # fmt: skip


def _journal(session_id: str, *events: Any) -> None:
    with session_scope() as db:
        append_events(db, uuid.UUID(session_id), list(events))


def test_fills_positions_and_pnl_are_read_from_the_journal_exactly(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _running(client, alice)
    base = f"/sessions/{session['id']}"
    at = T0 + timedelta(hours=3)

    def fill(n: int, leg: int | None, symbol: str, side: Any, qty: str, price: str) -> TradeEvent:
        return TradeEvent(
            fill_no=n, leg=leg, symbol=symbol, side=side, quantity=Decimal(qty),
            price=Decimal(price), fee=Decimal("0.01"), reason="signal", at=at,
        )  # fmt: skip

    def position(leg: int | None, symbol: str, side: str, qty: str, realised: str) -> Any:
        return PositionChanged(
            leg=leg, symbol=symbol, side=side, quantity=Decimal(qty),  # type: ignore[arg-type]
            average_price=Decimal("100.1") if qty != "0" else None,
            realised_pnl=Decimal(realised), unrealised_pnl=Decimal("0.3"), at=at,
        )  # fmt: skip

    def leg_pnl(leg: int | None, symbol: str, strategy: str | None, r: str, u: str) -> LegPnl:
        return LegPnl(leg=leg, symbol=symbol, strategy=strategy, realised=Decimal(r),
                      unrealised=Decimal(u), at=at)  # fmt: skip

    _journal(
        session["id"],
        fill(1, 0, "BTCUSDT", "buy", "0.1", "100.1"),
        position(0, "BTCUSDT", "long", "0.1", "0"),
        fill(2, 0, "BTCUSDT", "sell", "0.1", "101.1"),
        position(0, "BTCUSDT", "flat", "0", "0.09"),
        fill(3, None, "BTCUSDT", "buy", "0.2", "100.1"),
        position(None, "BTCUSDT", "long", "0.2", "0"),
        fill(4, 1, "ETHUSDT", "buy", "0.3", "100.1"),
        position(1, "ETHUSDT", "long", "0.3", "0"),
        PnlSnapshot(
            legs=[
                leg_pnl(0, "BTCUSDT", "sma_cross", "0.1", "0"),
                leg_pnl(1, "ETHUSDT", "sma_cross", "0.2", "0.00000001"),
                leg_pnl(None, "BTCUSDT", None, "-0.3", "0.7"),
            ],
            realised=Decimal("0"),
            unrealised=Decimal("0.70000001"),
            cash=Decimal("9980.12345678"),
            equity=Decimal("10000.82345679"),
            at=at,
        ),
    )
    fills = client.get(f"{base}/fills", params={"limit": 3}, headers=alice.headers).json()
    assert [f["fill_no"] for f in fills["items"]] == [1, 2, 3]
    assert [f["seq"] for f in fills["items"]] == [2, 4, 6]
    assert fills["items"][1]["price"] == "101.1"
    rest = client.get(
        f"{base}/fills", params={"after": fills["next_after"]}, headers=alice.headers
    ).json()
    assert ([f["fill_no"] for f in rest["items"]], rest["next_after"]) == ([4], None)

    held = client.get(f"{base}/positions", headers=alice.headers).json()
    assert [(p["leg"], p["symbol"], p["side"], p["quantity"]) for p in held] == [
        (0, "BTCUSDT", "flat", "0"),
        (1, "ETHUSDT", "long", "0.3"),
        (None, "BTCUSDT", "long", "0.2"),
    ]  # fmt: skip
    assert held[0]["realised_pnl"] == "0.09"

    pnl = client.get(f"{base}/pnl", headers=alice.headers).json()
    assert [(leg["leg"], leg["strategy"], leg["realised"]) for leg in pnl["legs"]] == [
        (0, "sma_cross", "0.1"), (1, "sma_cross", "0.2"), (None, None, "-0.3"),
    ]  # fmt: skip
    assert pnl["by_symbol"] == {
        "BTCUSDT": {"realised": "-0.2", "unrealised": "0.7", "total": "0.5"},
        "ETHUSDT": {"realised": "0.2", "unrealised": "0.00000001", "total": "0.20000001"},
    }
    assert pnl["by_strategy"]["sma_cross"]["total"] == "0.30000001"
    assert pnl["by_strategy"]["manual"] == {"realised": "-0.3", "unrealised": "0.7", "total": "0.4"}
    assert (pnl["realised"], pnl["unrealised"], pnl["total"]) == ("0", "0.70000001", "0.70000001")
    assert (pnl["cash"], pnl["equity"]) == ("9980.12345678", "10000.82345679")
    assert pnl["at"] == "2024-01-01T03:00:00Z"


def test_pnl_before_any_snapshot_is_zero_on_the_initial_cash(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _created(client, alice)
    pnl = client.get(f"/sessions/{session['id']}/pnl", headers=alice.headers).json()
    assert pnl == {
        "legs": [], "by_symbol": {}, "by_strategy": {}, "realised": "0", "unrealised": "0",
        "total": "0", "cash": "10000", "equity": "10000", "at": None,
    }  # fmt: skip
    assert client.get(f"/sessions/{session['id']}/positions", headers=alice.headers).json() == []


def test_session_routes_need_an_api_key(client: TestClient) -> None:
    assert client.get("/sessions").status_code == 401
    assert client.post("/sessions", json=SPEC).status_code == 401
    assert client.post("/sessions/kill-all").status_code == 401


def test_journaled_changes_are_published_after_commit_and_refusals_publish_nothing(
    client: TestClient, alice: Account
) -> None:
    _bars()
    recorder = RecordingPublisher()
    client.app.dependency_overrides[session_publisher] = lambda: recorder  # type: ignore[attr-defined]
    session = _created(client, alice)
    base = f"/sessions/{session['id']}"
    client.post(f"{base}/start", headers=alice.headers)
    client.post(f"{base}/orders", json=ORDER | {"client_order_id": "a"}, headers=alice.headers)
    client.post(f"{base}/orders", json=ORDER | {"client_order_id": "a"}, headers=alice.headers)
    assert client.post(f"{base}/resume", headers=alice.headers).status_code == 409
    published = [(e.seq, e.payload["type"]) for e in recorder.published_events]
    assert published == [(1, "session.state"), (2, "order.new")]
    journal = _events(client, alice, session["id"])["events"]
    assert [e["event"] for e in journal] == [e.payload for e in recorder.published_events]


def test_speed_changes_are_stored_journaled_and_refused_once_ended(
    client: TestClient, alice: Account
) -> None:
    _bars()
    session = _running(client, alice)
    sid, head = session["id"], session["last_seq"]
    changed = client.post(f"/sessions/{sid}/speed", json={"speed": 60}, headers=alice.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["spec"]["speed"] == 60
    assert changed.json()["state"] == "running"
    (event,) = _events(client, alice, sid, after=head)["events"]
    assert event["event"]["type"] == "session.state"
    assert event["event"]["speed"] == 60
    assert event["event"]["state"] == event["event"]["previous"] == "running"
    assert event["event"]["reason"] == f"speed set to x60 by {alice.name}"
    to_max = client.post(f"/sessions/{sid}/speed", json={"speed": "max"}, headers=alice.headers)
    assert to_max.json()["spec"]["speed"] == "max"

    for bad in (0, -1, 2_000_000, "fast"):
        refused = client.post(f"/sessions/{sid}/speed", json={"speed": bad}, headers=alice.headers)
        assert refused.status_code == 422, bad
        assert "speed" in refused.text
    client.post(f"/sessions/{sid}/stop", headers=alice.headers)
    ended = client.post(f"/sessions/{sid}/speed", json={"speed": 1}, headers=alice.headers)
    assert ended.status_code == 409
    assert "stopped" in ended.json()["detail"]

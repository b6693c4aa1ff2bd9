"""`/alerts`: rules checked at creation (422 naming the field), owner-scoped reads, alerts
stored once per rule and bar, listed and acknowledged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import T0, Account, store_bars
from velocitas.copilot import evaluate_bars
from velocitas.research.alert_rules import SESSIONS_UNAVAILABLE

CROSS = {"kind": "cross", "symbol": "BTCUSDT", "timeframe": "1h", "level": "120"}


def _create(client: TestClient, account: Account, rule: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/alerts/rules", json=rule, headers=account.headers)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"/alerts/rules/{answer.json()['id']}"
    return answer.json()


def test_create_list_read_and_delete_a_rule(client: TestClient, alice: Account) -> None:
    store_bars()
    created = _create(client, alice, {**CROSS, "webhook_url": "http://127.0.0.1:9/hook"})
    assert created["kind"] == "cross"
    assert created["name"] == "close crosses 120 on BTCUSDT 1h"
    assert created["spec"]["level"] == "120"  # the exact decimal, as a string
    assert created["webhook_url"] == "http://127.0.0.1:9/hook"
    listed = client.get("/alerts/rules", headers=alice.headers).json()
    assert [r["id"] for r in listed] == [created["id"]]
    read = client.get(f"/alerts/rules/{created['id']}", headers=alice.headers)
    assert read.json() == created
    assert client.delete(f"/alerts/rules/{created['id']}", headers=alice.headers).status_code == 204
    assert client.get("/alerts/rules", headers=alice.headers).json() == []


@pytest.mark.parametrize(
    ("rule", "loc"),
    [
        ({**CROSS, "symbol": "NOPE"}, ["body", "symbol"]),
        ({**CROSS, "timeframe": "4h"}, ["body", "timeframe"]),
        ({**CROSS, "indicator": {"name": "vwap"}}, ["body", "indicator", "name"]),
        ({**CROSS, "indicator": {"name": "rsi"}, "level": "101"}, ["body", "level"]),
        (
            {"kind": "signal", "symbol": "BTCUSDT", "timeframe": "1h", "strategy": {"name": "x"}},
            ["body", "strategy", "name"],
        ),
        ({"kind": "session_drawdown", "threshold": "0.2"}, ["body", "kind"]),
    ],
    ids=["symbol", "timeframe", "indicator", "level", "strategy", "session"],
)
def test_a_rule_that_cannot_be_evaluated_is_refused_naming_the_field(
    client: TestClient, alice: Account, rule: dict[str, Any], loc: list[str]
) -> None:
    store_bars()
    answer = client.post("/alerts/rules", json=rule, headers=alice.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc
    assert client.get("/alerts/rules", headers=alice.headers).json() == []


def test_session_rules_say_sessions_are_not_available_yet(
    client: TestClient, alice: Account
) -> None:
    answer = client.post(
        "/alerts/rules", json={"kind": "session_daily_loss"}, headers=alice.headers
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"] == SESSIONS_UNAVAILABLE


def test_a_malformed_rule_is_refused_by_its_shape(client: TestClient, alice: Account) -> None:
    store_bars()
    answer = client.post("/alerts/rules", json={**CROSS, "level": "NaN"}, headers=alice.headers)
    assert answer.status_code == 422
    assert "level" in answer.json()["detail"][0]["loc"]
    answer = client.post("/alerts/rules", json={"kind": "tea"}, headers=alice.headers)
    assert answer.status_code == 422


def _crossings(n: int = 200) -> list[int]:
    """Bars of `store_bars` whose close crosses 120 from the bar before: at or below, then
    above; or at or above, then below."""
    c = [100 + i / 4 + (i * 7) % 11 - 5 for i in range(n)]
    return [i for i in range(1, n) if (c[i - 1] <= 120 < c[i]) or (c[i - 1] >= 120 > c[i])]


def test_alerts_are_stored_once_per_rule_and_bar_listed_and_acknowledged(
    client: TestClient, alice: Account, bob: Account
) -> None:
    store_bars()
    rule = _create(client, alice, CROSS)
    first, last = T0, T0 + timedelta(hours=199)
    raised = evaluate_bars("BTCUSDT", "1h", first, last)
    expected = _crossings()
    assert expected
    assert sorted(int((a.bar_opened_at - T0) / timedelta(hours=1)) for a, _ in raised) == expected
    assert evaluate_bars("BTCUSDT", "1h", first, last) == []  # once per rule and bar

    page = client.get("/alerts", headers=alice.headers).json()
    assert len(page["items"]) == len(expected)
    assert {a["rule_id"] for a in page["items"]} == {rule["id"]}
    alert = page["items"][0]
    assert alert["details"]["level"] == "120"
    assert alert["acknowledged_at"] is None
    assert client.get("/alerts", headers=bob.headers).json()["items"] == []

    # Bob can neither acknowledge alice's alert nor see or delete her rule: 404, as if absent.
    assert client.post(f"/alerts/{alert['id']}/ack", headers=bob.headers).status_code == 404
    assert client.get(f"/alerts/rules/{rule['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/alerts/rules/{rule['id']}", headers=bob.headers).status_code == 404

    acked = client.post(f"/alerts/{alert['id']}/ack", headers=alice.headers).json()
    assert acked["acknowledged_at"] is not None
    again = client.post(f"/alerts/{alert['id']}/ack", headers=alice.headers).json()
    assert again["acknowledged_at"] == acked["acknowledged_at"]
    open_ = client.get("/alerts?acknowledged=false", headers=alice.headers).json()["items"]
    assert alert["id"] not in {a["id"] for a in open_}
    assert len(open_) == len(expected) - 1


def test_alert_pages_follow_the_cursor(client: TestClient, alice: Account) -> None:
    store_bars()
    _create(client, alice, CROSS)
    evaluate_bars("BTCUSDT", "1h", T0, T0 + timedelta(hours=199))
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/alerts?{query}", headers=alice.headers).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(_crossings())
    bad = client.get("/alerts?cursor=xyz", headers=alice.headers)
    assert bad.status_code == 422


def test_evaluation_reads_only_the_newest_bars_of_a_large_import(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    _create(client, alice, CROSS)
    raised = evaluate_bars("BTCUSDT", "1h", T0, T0 + timedelta(hours=199), max_bars=50)
    newest = [i for i in _crossings() if i >= 150]
    assert sorted(int((a.bar_opened_at - T0) / timedelta(hours=1)) for a, _ in raised) == newest


def test_routes_need_a_key(client: TestClient) -> None:
    assert client.get("/alerts").status_code == 401
    assert client.post("/alerts/rules", json=CROSS).status_code == 401

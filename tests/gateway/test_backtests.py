"""`/backtests` routes: 202 submission, validation, idempotency, reading, paging, cancelling,
and one user never reaching another's jobs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import T0, Account, register_model_row, store_bars
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind
from velocitas.domain.positions import PositionSide
from velocitas.domain.trades import Trade
from velocitas.settings import get_settings

SPEC: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "timeframe": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-05T00:00:00Z",
    "initial_cash": "10000",
    "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
}


def _finished_job(owner: Account, trades: int = 3, points: int = 5) -> uuid.UUID:
    """A succeeded backtest of `owner` with results, written as a worker would."""
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner.id, kind=JobKind.BACKTEST, spec=SPEC)
        job_store.mark_running(session, job.id)
        job_store.record_result(
            session,
            job.id,
            summary={"final_equity": "10012.50000001"},
            trades=[
                Trade(
                    leg=0,
                    symbol="BTCUSDT",
                    strategy="sma_cross",
                    side=PositionSide.LONG,
                    quantity=Decimal("0.00100000"),
                    entry_bar=0,
                    entry_at=T0,
                    entry_price=Decimal("42000.12345678"),
                    exit_bar=0,
                    exit_at=T0,
                    exit_price=Decimal("42001"),
                    gross_pnl=Decimal("0.00087654322"),
                    fees=Decimal("0.0001"),
                    net_pnl=Decimal("0.00077654322"),
                    exit_reason="signal",
                )
                for _ in range(trades)
            ],
            equity_opened_at_ns=np.arange(points, dtype=np.int64) * 3_600_000_000_000,
            equity=[Decimal("10000.1")] * points,
        )
        return job.id


def test_create_backtest_answers_202_with_location(client: TestClient, alice: Account) -> None:
    store_bars()
    response = client.post("/backtests", json=SPEC, headers=alice.headers)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == f"/backtests/{body['id']}"
    job = client.get(response.headers["Location"], headers=alice.headers).json()
    assert (job["id"], job["status"], job["kind"]) == (body["id"], "queued", "backtest")
    assert job["spec"]["initial_cash"] == "10000"


def test_create_backtest_accepts_a_policy_strategy(client: TestClient, alice: Account) -> None:
    store_bars()
    register_model_row("SYN-1m-v1", "1h")  # an unregistered one is refused (test_bad_input.py)
    spec = {**SPEC, "strategy": {"name": "policy", "params": {"model": "SYN-1m-v1"}}}
    response = client.post("/backtests", json=spec, headers=alice.headers)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2023-12-01T00:00:00Z"}, "end"),
        ({"symbol": "NOSUCH"}, "symbol"),
        ({"initial_cash": "-5"}, "initial_cash"),
        ({"leverage": 100}, "leverage"),
        ({"strategy": {"name": "sma_cross", "params": {"fast": 0, "slow": 20}}}, "fast"),
        ({"strategy": {"name": "sma_cross", "params": {"fast": 30, "slow": 20}}}, "params"),
        ({"strategy": {"name": "no_such_strategy"}}, "name"),
        ({"timeframe": "7h"}, "timeframe"),
        ({"sizing": {"mode": "fraction_of_equity", "value": "3"}}, "sizing"),
    ],
    ids=[
        "empty-range",
        "no-bars",
        "negative-cash",
        "unknown-field",
        "param-out-of-bounds",
        "params-contradict",
        "unknown-strategy",
        "unknown-timeframe",
        "leverage-sizing",
    ],
)
def test_create_backtest_invalid_spec_is_422_naming_the_field_and_queues_nothing(
    client: TestClient, alice: Account, change: dict[str, Any], field: str
) -> None:
    store_bars()
    response = client.post("/backtests", json={**SPEC, **change}, headers=alice.headers)
    assert response.status_code == 422
    problems = response.json()["detail"]
    # A rule joining several fields (end after start) is reported on the body, naming them.
    assert any(field in problem["loc"] or field in problem["msg"] for problem in problems), problems
    assert all(problem["msg"] for problem in problems)
    assert client.get("/backtests", headers=alice.headers).json()["items"] == []


def test_create_backtest_same_idempotency_key_returns_first_job(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    headers = {**alice.headers, "Idempotency-Key": "retry-1"}
    first = client.post("/backtests", json=SPEC, headers=headers)
    second = client.post("/backtests", json=SPEC, headers=headers)
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert len(client.get("/backtests", headers=alice.headers).json()["items"]) == 1
    other = client.post("/backtests", json={**SPEC, "initial_cash": "5"}, headers=headers)
    assert other.status_code == 409


def test_list_backtests_newest_first_filtered_and_paged(client: TestClient, alice: Account) -> None:
    store_bars()
    ids = [
        client.post("/backtests", json=SPEC, headers=alice.headers).json()["id"] for _ in range(3)
    ]
    done = str(_finished_job(alice))
    page = client.get("/backtests?limit=2", headers=alice.headers).json()
    rest = client.get(f"/backtests?limit=2&cursor={page['next_cursor']}", headers=alice.headers)
    listed = [j["id"] for j in page["items"] + rest.json()["items"]]
    assert listed == [done, *reversed(ids)]
    assert rest.json()["next_cursor"] is None
    finished = client.get("/backtests?status=succeeded", headers=alice.headers).json()["items"]
    assert [j["id"] for j in finished] == [done]
    assert client.get("/backtests?cursor=garbage", headers=alice.headers).status_code == 422


def test_read_backtest_trades_and_equity_are_paged_decimal_strings(
    client: TestClient, alice: Account
) -> None:
    job_id = _finished_job(alice, trades=3, points=5)
    job = client.get(f"/backtests/{job_id}", headers=alice.headers).json()
    assert job["status"] == "succeeded"
    assert job["summary"] == {"final_equity": "10012.50000001"}
    first = client.get(f"/backtests/{job_id}/trades?limit=2", headers=alice.headers).json()
    assert [t["seq"] for t in first["items"]] == [0, 1]
    assert first["items"][0]["entry_price"] == "42000.12345678"
    assert first["items"][0]["net_pnl"] == "0.00077654322"
    rest = client.get(
        f"/backtests/{job_id}/trades?limit=2&after={first['next_after']}", headers=alice.headers
    ).json()
    assert ([t["seq"] for t in rest["items"]], rest["next_after"]) == ([2], None)
    equity = client.get(f"/backtests/{job_id}/equity", headers=alice.headers).json()
    assert [p["equity"] for p in equity["items"]] == ["10000.1"] * 5
    assert equity["items"][1]["opened_at"] == "1970-01-01T01:00:00Z"


def test_read_backtest_trades_json_is_byte_stable(client: TestClient, alice: Account) -> None:
    job_id = _finished_job(alice, trades=2, points=1)
    response = client.get(f"/backtests/{job_id}/trades?limit=1", headers=alice.headers)
    assert response.content == (
        b'{"items":[{"seq":0,"leg":0,"symbol":"BTCUSDT","strategy":"sma_cross","side":"long",'
        b'"quantity":"0.00100000","entry_at":"2024-01-01T00:00:00Z",'
        b'"entry_price":"42000.12345678","exit_at":"2024-01-01T00:00:00Z","exit_price":"42001",'
        b'"gross_pnl":"0.00087654322","fees":"0.0001","net_pnl":"0.00077654322",'
        b'"exit_reason":"signal"}],"next_after":0}'
    )


def test_delete_backtest_cancels_queued_job_then_conflicts(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    job_id = client.post("/backtests", json=SPEC, headers=alice.headers).json()["id"]
    response = client.delete(f"/backtests/{job_id}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert client.get(f"/backtests/{job_id}", headers=alice.headers).json()["status"] == "cancelled"
    assert client.delete(f"/backtests/{job_id}", headers=alice.headers).status_code == 409


ROUTES = [
    ("GET", "/backtests/{id}"),
    ("GET", "/backtests/{id}/trades"),
    ("GET", "/backtests/{id}/equity"),
    ("DELETE", "/backtests/{id}"),
    ("GET", "/sweeps/{id}"),
    ("GET", "/sweeps/{id}/runs"),
    ("DELETE", "/sweeps/{id}"),
]


def _job_for(owner: Account, path: str) -> uuid.UUID:
    if path.startswith("/backtests"):
        return _finished_job(owner)
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner.id, kind=JobKind.SWEEP, spec={"base": SPEC, "grid": {}}
        )
        return job.id


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_job_routes_answer_404_for_another_users_job(
    client: TestClient, alice: Account, bob: Account, method: str, path: str
) -> None:
    url = path.format(id=_job_for(alice, path))
    assert client.request(method, url, headers=bob.headers).status_code == 404
    assert client.request(method, url, headers=alice.headers).status_code in (200, 409)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_job_routes_answer_404_for_unknown_job(
    client: TestClient, alice: Account, method: str, path: str
) -> None:
    url = path.format(id=uuid.uuid4())
    assert client.request(method, url, headers=alice.headers).status_code == 404


def test_job_routes_answer_404_for_a_job_of_another_kind(
    client: TestClient, alice: Account
) -> None:
    backtest = _finished_job(alice)
    assert client.get(f"/sweeps/{backtest}", headers=alice.headers).status_code == 404


@pytest.mark.parametrize("path", ["/backtests", "/sweeps"])
def test_list_routes_show_only_own_jobs(
    client: TestClient, alice: Account, bob: Account, path: str
) -> None:
    _job_for(alice, path)
    assert client.get(path, headers=bob.headers).json()["items"] == []
    assert len(client.get(path, headers=alice.headers).json()["items"]) == 1


def test_create_backtest_idempotency_key_of_another_user_is_not_shared(
    client: TestClient, alice: Account, bob: Account
) -> None:
    store_bars()
    a = client.post("/backtests", json=SPEC, headers={**alice.headers, "Idempotency-Key": "k"})
    b = client.post("/backtests", json=SPEC, headers={**bob.headers, "Idempotency-Key": "k"})
    assert a.json()["id"] != b.json()["id"]
    assert client.get(f"/backtests/{a.json()['id']}", headers=bob.headers).status_code == 404


def test_openapi_documents_202_location_and_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/backtests"]["post"]
    assert set(post["responses"]) >= {"202", "401", "409", "422", "503"}
    assert "Location" in post["responses"]["202"]["headers"]
    for path in ("/backtests/{job_id}", "/backtests/{job_id}/trades", "/backtests/{job_id}/equity"):
        assert "404" in schema["paths"][path]["get"]["responses"]


def test_create_backtest_with_queue_down_answers_503_and_fails_the_job(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_bars()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")  # nothing listens there
    get_settings.cache_clear()
    response = client.post("/backtests", json=SPEC, headers=alice.headers)
    assert response.status_code == 503
    [job] = client.get("/backtests", headers=alice.headers).json()["items"]
    assert job["status"] == "failed"
    assert "could not be queued" in job["error"]


def test_equity_display_keeps_every_point_of_a_short_curve_as_stored(
    client: TestClient, alice: Account
) -> None:
    job_id = _finished_job(alice, points=7)
    body = client.get(f"/backtests/{job_id}/equity/display", headers=alice.headers).json()
    paged = client.get(f"/backtests/{job_id}/equity", headers=alice.headers).json()["items"]
    assert body["total"] == 7
    assert body["items"] == paged  # same seq, instant and exact decimal text


def test_equity_display_downsamples_keeping_the_extremes(
    client: TestClient, alice: Account
) -> None:
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=alice.id, kind=JobKind.BACKTEST, spec=SPEC)
        job_store.mark_running(session, job.id)
        values = [Decimal(10000 + (i % 97)) for i in range(10_000)]
        values[4321] = Decimal("123.45")  # the deepest low must survive
        job_store.record_result(
            session, job.id, summary={}, trades=[],
            equity_opened_at_ns=np.arange(10_000, dtype=np.int64) * 60_000_000_000,
            equity=values,
        )  # fmt: skip
    url = f"/backtests/{job.id}/equity/display"
    body = client.get(url, params={"points": 400}, headers=alice.headers).json()
    assert body["total"] == 10_000
    assert len(body["items"]) <= 400
    kept = {p["seq"]: p["equity"] for p in body["items"]}
    assert kept[4321] == "123.45"
    assert kept[0] == "10000"
    assert 9999 in kept
    assert client.get(url, headers=client.headers).status_code == 401
    assert client.get(url, params={"points": 2}, headers=alice.headers).status_code == 422

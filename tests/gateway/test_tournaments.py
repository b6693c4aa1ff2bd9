"""`/tournaments`: submit (202 + Location), bad input (422 naming the field), cross-user 404,
the report's endpoints before (409) and after success, and the round trip on real workers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, store_bars
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind

REQUEST: dict[str, Any] = {
    "strategies": ["sma_cross", "momentum", {"name": "rsi_reversion", "grid": {"period": [7, 14]}}],
    "symbols": ["BTCUSDT", "ETHUSDT"],
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-09T08:00:00Z",
    "folds": 3,
    "cscv_blocks": 4,
    "execution": {"initial_cash": "10000"},
}


def _store() -> None:
    store_bars("BTCUSDT", n=200)
    store_bars("ETHUSDT", n=200)


def _queued(owner: Account) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner.id, kind=JobKind.TOURNAMENT, spec=REQUEST
        )
        return job.id


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        ({"strategies": ["sma_cross", "alpha"]}, ["body", "strategies", 1, "name"], "alpha"),
        ({"symbols": ["BTCUSDT", "NOPE"]}, ["body", "symbols", 1], "NOPE"),
        ({"end": "2024-01-01T00:00:00Z"}, ["body", "end"], "empty"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"},
         ["body", "symbols", 0], "no 1h bars"),
        ({"strategies": [{"name": "sma_cross", "grid": {"fast": [0, 3]}}]},
         ["body", "strategies", 0, "grid", "fast"], ""),
        ({"folds": 90}, ["body", "folds"], "shorter than 3 bars"),
        ({"cscv_blocks": 5}, ["body", "cscv_blocks"], "even"),
        ({"execution": {"legs": []}}, ["body"], "legs"),
    ],
)  # fmt: skip
def test_create_tournament_invalid_is_422_naming_the_field(
    client: TestClient, alice: Account, change: dict[str, Any], where: list[Any], says: str
) -> None:
    _store()
    response = client.post("/tournaments", json=REQUEST | change, headers=alice.headers)
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == where
    assert says in problem["msg"]
    assert client.get("/tournaments", headers=alice.headers).json()["items"] == []


def test_create_tournament_over_the_size_limit_says_its_size(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from velocitas.settings import get_settings

    _store()
    monkeypatch.setenv("MAX_TOURNAMENT_SIZE", "20")
    get_settings.cache_clear()
    response = client.post("/tournaments", json=REQUEST, headers=alice.headers)
    get_settings.cache_clear()
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "folds"]
    # 4 parameter sets (sma_cross, momentum, rsi_reversion x 2) x 2 symbols x 1 x 3 folds
    assert "= 24 runs; at most 20" in problem["msg"]


def test_tournament_report_endpoints_wait_for_success_and_hide_from_others(
    client: TestClient, alice: Account, bob: Account
) -> None:
    job_id = _queued(alice)
    for suffix in ("", "/entries"):
        assert (
            client.get(f"/tournaments/{job_id}{suffix}", headers=alice.headers).status_code == 200
        )
        assert client.get(f"/tournaments/{job_id}{suffix}", headers=bob.headers).status_code == 404
    for suffix in ("/best", "/symbols/BTCUSDT", "/recommendations", "/regimes"):
        assert (
            client.get(f"/tournaments/{job_id}{suffix}", headers=alice.headers).status_code == 409
        )
        assert client.get(f"/tournaments/{job_id}{suffix}", headers=bob.headers).status_code == 404


@pytest.mark.slow
@pytest.mark.worker_processes
def test_tournament_round_trip_on_workers(
    client: TestClient, alice: Account, workers: WorkerProcess
) -> None:
    _store()
    workers.start()
    accepted = client.post("/tournaments", json=REQUEST, headers=alice.headers)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert location == f"/tournaments/{accepted.json()['id']}"
    job = wait_until(
        lambda: (
            (j := client.get(location, headers=alice.headers).json())["status"]
            in ("succeeded", "failed")
            and j
        ),
        timeout=180,
    )
    assert job["status"] == "succeeded", job["error"]
    summary = job["summary"]
    assert len(summary["entries"]) == 6
    assert summary["trials"] == 8  # 4 parameter sets on each of 2 symbols
    assert [e["rank"] for e in summary["entries"]] == list(range(1, 7))
    assert summary["overfitting"]["splits"] == 6  # C(4, 2)
    assert 0.0 <= summary["overfitting"]["pbo"] <= 1.0
    sharpes = [e["out_of_sample"]["sharpe"] for e in summary["entries"]]
    known = [s for s in sharpes if s is not None]  # a run without a trade has no Sharpe
    assert sharpes[: len(known)] == sorted(known, reverse=True)
    entries = client.get(f"{location}/entries", headers=alice.headers).json()["items"]
    assert {(e["kind"], e["status"]) for e in entries} == {("tournament_entry", "succeeded")}
    best = client.get(f"{location}/best?limit=2", headers=alice.headers).json()
    assert best["items"] == summary["entries"][:2]
    eth = client.get(f"{location}/symbols/ETHUSDT", headers=alice.headers).json()["items"]
    assert [e["strategy"] for e in eth] == [
        e["strategy"] for e in summary["entries"] if e["symbol"] == "ETHUSDT"
    ]
    missing = client.get(f"{location}/symbols/XRPUSDT", headers=alice.headers)
    assert missing.status_code == 404
    advice = client.get(f"{location}/recommendations", headers=alice.headers).json()["items"]
    per_market = [a for a in advice if a["kind"] in ("trade", "caution", "no_edge")]
    assert {a["symbol"] for a in per_market} == {"BTCUSDT", "ETHUSDT"}
    for item in per_market:
        assert {"out_of_sample", "deflated_sharpe", "pbo", "trials"} <= item["evidence"].keys()
        assert "out of sample" in item["text"]
        assert "deflated Sharpe" in item["text"]
    regimes = client.get(f"{location}/regimes", headers=alice.headers).json()["regimes"]
    assert regimes == summary["regimes"]
    assert set(regimes) <= {"trending_up", "trending_down", "ranging", "volatile"}
    for rows in regimes.values():
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))

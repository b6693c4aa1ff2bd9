"""The round trip on real servers and a real worker process: submit over REST, follow the
events over the WebSocket, read the report; the result equals an in-process engine run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess
from velocitas.db.bars import load_bars
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestReport, Bar
from velocitas.engine import BacktestSpec, run_backtest


def _follow(ws: Any, job_id: str) -> list[dict[str, Any]]:
    """Events of `job_id` until it finishes (other jobs' events are skipped)."""
    events = []
    while True:
        message = ws.receive_json()
        if message.get("job_id") != job_id:
            continue
        events.append(message)
        if message["type"] in ("job.succeeded", "job.failed", "job.cancelled"):
            return events


@pytest.mark.slow
@pytest.mark.worker_processes
def test_backtest_round_trip_events_and_report_match_the_engine(
    client: TestClient, alice: Account, workers: WorkerProcess
) -> None:
    store_bars(n=300)
    workers.start()
    with client.websocket_connect("/ws", headers=alice.headers) as ws:
        assert ws.receive_json() == {"type": "ready"}
        accepted = client.post("/backtests", json=SPEC, headers=alice.headers)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]
        events = _follow(ws, job_id)
    types = [e["type"] for e in events]
    assert types[0] == "job.queued"
    assert types[1] == "job.running"
    assert types[-1] == "job.succeeded", events[-1]["error"]
    assert set(types[2:-1]) <= {"job.progress"}
    progress = [e["progress"] for e in events[1:]]
    assert progress == sorted(progress)

    job = client.get(f"/backtests/{job_id}", headers=alice.headers).json()
    spec = BacktestSpec.model_validate(SPEC)
    expected = run_backtest(spec, {"BTCUSDT": load_bars("BTCUSDT", "1h", spec.start, spec.end)})
    assert job["status"] == "succeeded"
    assert job["summary"]["result_hash"] == expected.result_hash
    assert job["summary"]["final_equity"] == format(expected.final_equity, "f")
    assert job["engine_version"] == expected.engine_version
    assert len(job["data_snapshot_hash"]) == 64
    trades = client.get(f"/backtests/{job_id}/trades?limit=1000", headers=alice.headers).json()
    assert [Decimal(t["net_pnl"]) for t in trades["items"]] == [t.net_pnl for t in expected.trades]
    equity = client.get(f"/backtests/{job_id}/equity?limit=10000", headers=alice.headers).json()
    assert [float(p["equity"]) for p in equity["items"]] == expected.equity.equity.tolist()


@pytest.mark.slow
@pytest.mark.worker_processes
def test_backtest_whose_data_vanished_fails_readably_without_retrying(
    client: TestClient, alice: Account, workers: WorkerProcess
) -> None:
    store_bars()
    job_id = client.post("/backtests", json=SPEC, headers=alice.headers).json()["id"]
    with session_scope() as session:  # accepted while the data was there; gone by run time
        session.execute(delete(Bar))
    workers.start()
    job = wait_until(
        lambda: (
            (j := client.get(f"/backtests/{job_id}", headers=alice.headers).json())["status"]
            == "failed"
            and j
        ),
        timeout=120,  # a worker's cold start on a loaded 2-core machine took over 60 s once
    )
    assert "no 1h bars" in job["error"] or "no bars" in job["error"]
    assert "BTCUSDT" in job["error"]


@pytest.mark.slow
@pytest.mark.worker_processes
def test_sweep_round_trip_ranks_runs(
    client: TestClient, alice: Account, bob: Account, workers: WorkerProcess
) -> None:
    store_bars(n=300)
    workers.start()
    request = {"base": SPEC, "grid": {"fast": [3, 5], "slow": [20, 30]}, "rank_by": "total_return"}
    accepted = client.post("/sweeps", json=request, headers=alice.headers)
    assert accepted.status_code == 202
    location = accepted.headers["Location"]
    sweep = wait_until(
        lambda: (
            (j := client.get(location, headers=alice.headers).json())["status"] == "succeeded" and j
        ),
        timeout=120,
    )
    ranking = sweep["summary"]["ranking"]
    assert len(ranking) == 4
    scores = [r["total_return"] for r in ranking]
    assert scores == sorted(scores, reverse=True)
    runs = client.get(f"{location}/runs", headers=alice.headers).json()["items"]
    assert {r["status"] for r in runs} == {"succeeded"}
    best = client.get(f"/backtests/{ranking[0]['job_id']}", headers=alice.headers).json()
    assert best["spec"]["legs"][0]["strategy"]["params"] == {
        **SPEC["strategy"]["params"],
        **ranking[0]["params"],
    }
    # A sweep's runs are rows of its table: no HTML report drawn or stored for each.
    page = client.get(f"/backtests/{ranking[0]['job_id']}/report.html", headers=alice.headers)
    assert page.status_code == 404
    assert "a sweep's run" in page.json()["detail"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(BacktestReport)) == 0
    for path in (location, f"{location}/runs"):
        assert client.get(path, headers=bob.headers).status_code == 404
    assert client.delete(location, headers=bob.headers).status_code == 404


def test_create_sweep_with_a_run_out_of_bounds_is_422_and_queues_nothing(
    client: TestClient, alice: Account
) -> None:
    store_bars()
    request = {"base": SPEC, "grid": {"fast": [5, 0]}}
    response = client.post("/sweeps", json=request, headers=alice.headers)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "grid"]
    assert "run 1" in problem["msg"]
    assert client.get("/sweeps", headers=alice.headers).json()["items"] == []

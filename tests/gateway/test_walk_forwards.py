"""`/walk-forwards`: submit (202), validation (422), cross-user 404, and the round trip on a
real worker whose stitched result equals an in-process `run_walk_forward`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess
from velocitas.db import jobs as job_store
from velocitas.db.bars import load_bars
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind
from velocitas.engine import BacktestSpec
from velocitas.research.walk_forward import run_walk_forward

REQUEST: dict[str, Any] = {
    "base": {**SPEC, "end": "2024-01-09T00:00:00Z"},
    "grid": {"fast": [3, 5], "slow": [12, 20]},
    "in_sample": "2d",
    "out_of_sample": "1d",
    "objective": "total_return",
}


def _queued(owner: Account) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner.id, kind=JobKind.WALK_FORWARD, spec=REQUEST
        )
        return job.id


@pytest.mark.slow
@pytest.mark.worker_processes
def test_walk_forward_round_trip_matches_the_engine(
    client: TestClient, alice: Account, bob: Account, workers: WorkerProcess
) -> None:
    store_bars(n=8 * 24)
    workers.start()
    accepted = client.post("/walk-forwards", json=REQUEST, headers=alice.headers)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert location == f"/walk-forwards/{accepted.json()['id']}"
    job = wait_until(
        lambda: (
            (j := client.get(location, headers=alice.headers).json())["status"]
            in ("succeeded", "failed")
            and j
        ),
        timeout=120,
    )
    assert job["status"] == "succeeded", job["error"]
    spec = BacktestSpec.model_validate(REQUEST["base"])
    bars = {"BTCUSDT": load_bars("BTCUSDT", "1h", spec.start, spec.end)}
    expected = run_walk_forward(
        spec, bars, REQUEST["grid"], in_sample=timedelta(days=2),
        out_of_sample=timedelta(days=1), objective="total_return", workers=1,
    )  # fmt: skip
    summary = job["summary"]
    assert summary["final_equity"] == str(expected.final_equity)
    assert [f["params"] for f in summary["folds"]] == [f["params"] for f in expected.folds]
    assert len(summary["folds"]) == 6
    equity = client.get(f"{location}/equity?limit=10000", headers=alice.headers).json()
    assert [float(p["equity"]) for p in equity["items"]] == expected.equity.tolist()
    folds = client.get(f"{location}/folds", headers=alice.headers).json()["items"]
    assert sorted(f["summary"]["fold"] for f in folds) == list(range(6))
    assert {(f["kind"], f["status"]) for f in folds} == {("fold", "succeeded")}
    listed = client.get("/walk-forwards", headers=alice.headers).json()["items"]
    assert [j["id"] for j in listed] == [accepted.json()["id"]]
    assert client.get("/walk-forwards", headers=bob.headers).json()["items"] == []
    for path in (location, f"{location}/equity", f"{location}/folds"):
        assert client.get(path, headers=bob.headers).status_code == 404
    assert client.delete(location, headers=bob.headers).status_code == 404


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"grid": {"fast": [0, 3]}}, ["body", "grid", "fast"]),
        ({"in_sample": "30d"}, ["body", "in_sample"]),
        ({"out_of_sample": "soon"}, ["body", "out_of_sample"]),
        ({"grid": {"speed": [1]}}, ["body", "grid", "speed"]),
    ],
)
def test_create_walk_forward_invalid_is_422_and_queues_nothing(
    client: TestClient, alice: Account, change: dict[str, Any], where: list[str]
) -> None:
    store_bars(n=8 * 24)
    response = client.post("/walk-forwards", json=REQUEST | change, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == where
    assert client.get("/walk-forwards", headers=alice.headers).json()["items"] == []


def test_create_walk_forward_unknown_objective_is_422(client: TestClient, alice: Account) -> None:
    store_bars(n=8 * 24)
    response = client.post(
        "/walk-forwards", json=REQUEST | {"objective": "alpha"}, headers=alice.headers
    )
    assert response.status_code == 422


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_walk_forward_routes_answer_404_for_another_users_job(
    client: TestClient, alice: Account, bob: Account, method: str
) -> None:
    job_id = _queued(alice)
    url = f"/walk-forwards/{job_id}"
    assert client.request(method, url, headers=bob.headers).status_code == 404
    assert client.request(method, url, headers=alice.headers).status_code == 200


def test_walk_forward_delete_cancels_a_queued_job(client: TestClient, alice: Account) -> None:
    job_id = _queued(alice)
    response = client.delete(f"/walk-forwards/{job_id}", headers=alice.headers)
    assert response.json()["status"] == "cancelled"
    assert client.get(f"/backtests/{job_id}", headers=alice.headers).status_code == 404

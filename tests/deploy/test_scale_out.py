"""Scaling out on one machine: two gateways and two workers, separate processes, one PostgreSQL,
one Redis. A job submitted to either gateway runs once and is announced on both gateways'
WebSockets; its request id follows it from the gateway's log lines into the worker's."""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.deploy.platform import Platform, json_lines
from tests.reliability.jobs import SPEC, Submitter
from tests.support.waiting import wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.worker_processes]


def _finished_jobs(ws: ClientConnection, job_ids: set[str], timeout: float) -> dict[str, str]:
    """The final event type of each of `job_ids` as this socket announced it."""
    final: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while set(final) != job_ids:
        left = deadline - time.monotonic()
        assert left > 0, f"no final event for {job_ids - set(final)}"
        event = orjson.loads(ws.recv(timeout=left))
        if event.get("job_id") in job_ids and event["type"] in ("job.succeeded", "job.failed"):
            final[event["job_id"]] = event["type"]
    return final


def test_two_gateways_and_two_workers_run_each_job_once_and_notify_both(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = Platform(database_url, redis_url, tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", platform.queue)
    get_settings.cache_clear()
    submitter = Submitter()
    submitter.prepare()  # bars, and a trigger counting each job's result writes
    with session_scope() as session:
        key = create_user(session, f"scale-{uuid.uuid4().hex[:6]}").api_key
    auth = {"Authorization": f"Bearer {key}"}
    workers = platform.workers()
    try:
        workers.start()
        workers.start()
        with platform.gateways(2) as gateways:
            wait_until(lambda: workers.ready() == set(workers.names), 300, "both workers consume")
            with ExitStack() as stack:
                sockets = [
                    stack.enter_context(connect(g.ws_url, additional_headers=auth, open_timeout=30))
                    for g in gateways
                ]
                for ws in sockets:
                    assert orjson.loads(ws.recv(timeout=30)) == {"type": "ready"}
                submitted: dict[str, str] = {}  # job id -> the request id that submitted it
                for n, gateway in enumerate(gateways, start=1):
                    request_id = f"scale-out-{n}-{uuid.uuid4().hex[:8]}"
                    response = httpx.post(
                        f"{gateway.url}/backtests",
                        json=SPEC,
                        headers={**auth, "X-Request-ID": request_id},
                        timeout=30,
                    )
                    assert response.status_code == 202, response.text
                    assert response.headers["x-request-id"] == request_id
                    submitted[response.json()["id"]] = request_id
                for ws in sockets:  # each gateway announces every job, whichever took it
                    finals = _finished_jobs(ws, set(submitted), timeout=300)
                    assert finals == dict.fromkeys(submitted, "job.succeeded")
        gateway_logs = [json_lines(g.log) for g in gateways]
    finally:
        workers.stop()

    job_ids = [uuid.UUID(job) for job in submitted]
    outcome = submitter.outcome(job_ids)
    assert outcome.succeeded == 2
    assert outcome.attempts == dict.fromkeys(job_ids, 1)  # delivered once
    assert outcome.writes == dict.fromkeys(job_ids, 1)  # its result written once
    _assert_request_ids_follow_the_jobs(submitted, gateway_logs, workers.log_dir, workers.names)


def _assert_request_ids_follow_the_jobs(
    submitted: dict[str, str],
    gateway_logs: list[list[dict[str, Any]]],
    worker_log_dir: Path,
    worker_names: list[str],
) -> None:
    worker_logs = {name: json_lines(worker_log_dir / f"{name}.log") for name in worker_names}
    for (job_id, request_id), lines in zip(submitted.items(), gateway_logs, strict=True):
        created = [line for line in lines if line.get("job_id") == job_id]
        assert created, f"the gateway logged nothing about job {job_id}"
        assert {line.get("request_id") for line in created} == {request_id}
        assert any(line["logger"] == "uvicorn.access" and line.get("request_id") == request_id
                   and line["status"] == 202 for line in lines)  # fmt: skip
        ran_on = [
            name
            for name, lines in worker_logs.items()
            if any(line.get("job_id") == job_id for line in lines)
        ]
        assert len(ran_on) == 1, f"job {job_id} ran on {ran_on}"
        job_lines = [line for line in worker_logs[ran_on[0]] if line.get("job_id") == job_id]
        assert {line.get("request_id") for line in job_lines} == {request_id}
        assert {line["service"] for line in job_lines} == {"worker"}

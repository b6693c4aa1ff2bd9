"""`velocitas up` as a user runs it: gateway and a worker serve a job; SIGTERM stops all."""

from __future__ import annotations

import signal
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.ports import free_port
from tests.support.processes import python_env, start_process, stop_processes, wait_for_http
from tests.support.waiting import wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.worker_processes
def test_up_serves_jobs_and_stops_cleanly_on_sigterm(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = python_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
            "VELOCITAS_HOME": str(tmp_path),
        }
    )
    log = tmp_path / "up.log"
    argv = [sys.executable, "-m", "velocitas_cli.main", "up", "--workers", "1", "--port", str(port)]
    up = start_process(argv, env, log)
    try:
        wait_for_http(f"{base}/health", up, timeout=60)
        store_bars()
        with session_scope() as session:
            key = create_user(session, "upper").api_key
        headers = {"Authorization": f"Bearer {key}"}
        accepted = httpx.post(f"{base}/backtests", json=SPEC, headers=headers, timeout=10)
        assert accepted.status_code == 202
        location = base + accepted.headers["Location"]
        # A worker took the job: it left the queue (whatever the run's outcome).
        wait_until(
            lambda: httpx.get(location, headers=headers).json()["status"] != "queued",
            timeout=90,
            message="a worker took the job",
            interval=0.2,
        )
    finally:
        # Only `up` itself is signalled: stopping its gateway and workers is what is tested.
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(timeout=60)
        finally:
            stop_processes(up)  # whatever `up` left running (nothing, when it works)
    assert code == 0, log.read_text()
    assert not _healthy(base)
    lines = log.read_text().splitlines()
    assert any(line.startswith("gateway ") for line in lines)
    assert any(line.startswith("worker1 ") for line in lines)

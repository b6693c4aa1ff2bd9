"""`velocitas up` as a user runs it: gateway and a worker serve a job; SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import store_bars
from tests.gateway.test_backtests import SPEC
from tests.worker.process import REPO, wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_up_serves_jobs_and_stops_cleanly_on_sigterm(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "VELOCITAS_HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "velocitas_cli.main",
                "up",
                "--workers",
                "1",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: _healthy(base), timeout=60, interval=0.2)
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
                interval=0.2,
            )
        finally:
            up.send_signal(signal.SIGTERM)
            code = up.wait(timeout=60)
    assert code == 0, log.read_text()
    assert not _healthy(base)
    lines = log.read_text().splitlines()
    assert any(line.startswith("gateway ") for line in lines)
    assert any(line.startswith("worker1 ") for line in lines)

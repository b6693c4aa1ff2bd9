"""The demo (`python -m velocitas_cli.demo`) end to end: real `velocitas up`, REST, WebSocket,
report."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.ports import free_port
from tests.support.processes import REPO

BARS = 5_000


def _demo(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "velocitas_cli.demo", "--bars", str(BARS),
         "--port", str(free_port()), "--json"],
        cwd=REPO, env=env, capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-5000:]
    outcome: dict[str, Any] = orjson.loads(done.stdout)
    return outcome


@pytest.mark.slow  # boots the whole platform twice
@pytest.mark.worker_processes
def test_demo_runs_the_round_trip_twice(database_url: str, redis_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "VELOCITAS_HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    first = _demo(env)
    assert first["dashboard"] == first["gateway"] + "/"
    assert first["dashboard_served"] is True
    assert first["bars"]["inserted"] == BARS
    assert first["news"]["inserted"] > 0
    assert first["events"][0] == "job.queued"
    assert "job.running" in first["events"]
    assert first["events"][-1] == "job.succeeded"
    job = first["job"]
    assert job["status"] == "succeeded"
    assert job["summary"]["bar_count"] == BARS
    assert job["summary"]["trade_count"] > 0
    assert isinstance(job["summary"]["final_equity"], str)
    assert -1 <= first["sentiment"]["score"] <= 1

    second = _demo(env)  # idempotent: the data is already there, a new user submits again
    assert second["bars"]["inserted"] == 0
    assert second["bars"]["unchanged"] == BARS
    assert second["news"]["inserted"] == 0
    assert second["job"]["id"] != job["id"]
    assert second["job"]["summary"]["final_equity"] == job["summary"]["final_equity"]

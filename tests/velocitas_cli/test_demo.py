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
from sqlalchemy import select

from tests.support.ports import free_port
from tests.support.processes import REPO
from velocitas.db.engine import session_scope
from velocitas.db.journal import events_after
from velocitas.db.models.sessions import SessionOrder, TradingSession

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
    _check_session_against_the_store(first["session"])

    second = _demo(env)  # idempotent: the data is already there, a new user submits again
    assert second["bars"]["inserted"] == 0
    assert second["bars"]["unchanged"] == BARS
    assert second["news"]["inserted"] == 0
    assert second["job"]["id"] != job["id"]
    assert second["job"]["summary"]["final_equity"] == job["summary"]["final_equity"]


def _check_session_against_the_store(shown: dict[str, Any]) -> None:
    """What the demo printed about its session is what the trader journaled."""
    session_id = uuid.UUID(shown["id"])
    with session_scope() as db:
        row = db.execute(select(TradingSession).where(TradingSession.id == session_id)).scalar_one()
        journal = [e.payload for e in events_after(db, session_id, 0, limit=1_000_000)]
        order = db.execute(
            select(SessionOrder).where(
                SessionOrder.session_id == session_id,
                SessionOrder.client_order_id == shown["order"]["client_order_id"],
            )
        ).scalar_one()
    assert row.state == shown["state"] == "finished"
    assert row.trader_id is None or row.bars_done == row.bars_total
    fills = [e for e in journal if e["type"] == "fill"]
    assert shown["tick_batches"] > 0
    assert shown["fills"] == shown["fills_api"] == len(fills)
    assert any(f["leg"] is None for f in fills)  # the manual order filled
    assert any(f["leg"] == 0 for f in fills)  # the strategy leg traded
    assert order.origin == "manual"
    assert order.status == shown["order"]["status"] == "filled"
    last_pnl = [e for e in journal if e["type"] == "pnl"][-1]
    assert shown["pnl"]["equity"] == last_pnl["equity"]
    assert [leg["realised"] for leg in shown["pnl"]["legs"]] == [
        leg["realised"] for leg in last_pnl["legs"]
    ]

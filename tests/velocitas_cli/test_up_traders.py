"""`velocitas up --traders N` runs N trader processes; restarting `up` resumes the sessions that
were running (their leases released by the drain, the claim loop takes them again)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import python_env, start_process, stop_processes
from tests.support.waiting import wait_until
from tests.trader.conftest import session_factory
from tests.trader.process import STUB_RUNNER
from tests.trader.reference import payloads, uninterrupted_journal
from tests.trader.sessions import journal, make_session, row
from velocitas_cli.up import services


def test_up_runs_each_trader_with_its_metrics_port_after_the_workers() -> None:
    planned = {s.name: s for s in services(2, "0.0.0.0", 8000, "10.0.0.5", traders=2)}
    for j, port in ((1, 8005), (2, 8006)):
        trader = planned[f"trader{j}"]
        assert trader.command[1:] == ["-m", "trader"]
        assert trader.url == f"http://10.0.0.5:{port}"
        assert trader.env == {"TRADER_METRICS_PORT": str(port), "TRADER_METRICS_HOST": "10.0.0.5"}
    assert "trader3" not in planned
    assert not any(s.name.startswith("trader") for s in services(1, "::", 8000, traders=0))


@pytest.mark.slow
@pytest.mark.worker_processes
def test_restarting_up_resumes_the_sessions_that_were_running(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=120)
    env = python_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VELOCITAS_HOME": str(tmp_path),
            "TRADER_RUNNER": STUB_RUNNER,
            "STUB_STEP_S": "0.1",
            "TRADER_POLL_S": "0.2",
        }
    )

    def up_once(log: Path, until_bars: int | None) -> int:
        """`up` until `until_bars` bars are done (None: until the session finished)."""
        port = free_port()
        argv = [
            sys.executable, "-m", "velocitas_cli.main", "up",
            "--workers", "1", "--traders", "1", "--port", str(port),
        ]  # fmt: skip
        up = start_process(argv, env, log)
        try:
            wait_until(
                lambda: _progress(until_bars), 120, f"progress to {until_bars}", interval=0.2
            )
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                code = up.wait(timeout=60)
            finally:
                stop_processes(up)
        return code

    def _progress(bars: int | None) -> bool:
        with sessions.begin() as db:
            found = row(db, session_id)
            return found.state == "finished" or (bars is not None and found.bars_done >= bars)

    assert up_once(tmp_path / "up-1.log", 5) == 0
    with sessions.begin() as db:
        stopped = row(db, session_id)
        assert (stopped.state, stopped.trader_id) == ("running", None)  # lease released
        assert stopped.bars_done < 120

    assert up_once(tmp_path / "up-2.log", None) == 0
    with sessions.begin() as db:
        assert row(db, session_id).state == "finished"
        assert payloads(journal(db, session_id)) == uninterrupted_journal(sessions, 120)

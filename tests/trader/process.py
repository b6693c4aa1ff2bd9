"""A real trader process (`python -m trader`) on a test's database, with a short lease."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.processes import kill_process, python_env, start_process, stop_processes

STUB_RUNNER = "tests.trader.stub_runner:run_session"


class TraderProcess:
    """`python -m trader` named `trader_id`, running the stub runner unless told otherwise."""

    def __init__(self, database_url: str, trader_id: str, log_dir: Path, **env: str) -> None:
        self.trader_id = trader_id
        self.log = log_dir / f"trader-{trader_id}.log"
        self.env = python_env(
            {
                "DATABASE_URL": database_url,
                "TRADER_ID": trader_id,
                "TRADER_RUNNER": STUB_RUNNER,
                "TRADER_LEASE_TTL_S": "3",
                "TRADER_POLL_S": "0.1",
                "TRADER_SLOTS": "2",
                **env,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TraderProcess:
        self.process = start_process([sys.executable, "-m", "trader"], self.env, self.log)
        return self

    def kill(self) -> None:
        """SIGKILL: no drain, the leases stay until they expire."""
        assert self.process is not None
        kill_process(self.process)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the drain; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            stop_processes(self.process)

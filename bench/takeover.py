"""Trader takeover after kill -9: how long a session waits for another trader, and whether
anything is journaled twice.

    python bench/takeover.py                      # 20 trials, lease TTL 10 s (the default)
    python bench/takeover.py --trials 5 --ttl 3

Two real trader processes (`python -m trader`) on a fresh embedded PostgreSQL (a temporary
VELOCITAS_HOME; `--database-url` to use another). Each trial creates a running session, waits
until one trader holds it and has replayed a few bars, SIGKILLs that trader and times until the
other one holds the lease (PostgreSQL's `trading_session.trader_id`, polled every 20 ms); then
waits for the session to finish, counts events journaled twice (a bar's `opened_at`, a fill's
`fill_no`) and compares the journal with an uninterrupted run's, and starts the killed trader
again for the next trial. Goal (issue 14): takeover within TTL + 5 s, 0 duplicates.

The takeover is bounded by the lease: the killed trader renewed it at most TTL/3 before it
died, so the lease expires TTL - TTL/3 .. TTL after the kill, and the survivor claims within
one poll (TRADER_POLL_S, 0.2 s here) after that.

The runner is `--runner` (default: the tests' stub runner, tests.trader.stub_runner, one
`bar.closed` per step: it isolates the service and its leases from the session engine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.trader.reference import payloads, uninterrupted_journal  # noqa: E402
from tests.trader.sessions import journal, make_session  # noqa: E402
from velocitas import embedded  # noqa: E402
from velocitas.db import migrate  # noqa: E402
from velocitas.db.engine import get_engine  # noqa: E402
from velocitas.db.models.sessions import TradingSession  # noqa: E402
from velocitas.settings import Settings  # noqa: E402

BARS = 300


def _wait(predicate: Callable[[], bool], timeout: float = 120.0, step: float = 0.02) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError("timed out")
        time.sleep(step)
    return time.monotonic() - started


class Traders:
    def __init__(self, database_url: str, ttl: float, runner: str, logs: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": database_url,
            "VELOCITAS_HOME": str(logs),  # an embedded Redis, if one is needed, lives here
            "TRADER_RUNNER": runner,
            "TRADER_LEASE_TTL_S": str(ttl),
            "TRADER_POLL_S": "0.2",
            "TRADER_SLOTS": "1",
            "STUB_STEP_S": "0.02",
        }
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "trader"],
                cwd=REPO,
                env={**self.env, "TRADER_ID": name},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            process.wait(timeout=30)


def _holder(sessions: sessionmaker[Session], session_id: uuid.UUID) -> tuple[str | None, int, str]:
    with sessions.begin() as db:
        row = db.execute(
            select(TradingSession.trader_id, TradingSession.bars_done, TradingSession.state).where(
                TradingSession.id == session_id
            )
        ).one()
        return row.trader_id, row.bars_done, row.state


def _duplicates(events: list[dict[str, Any]]) -> int:
    keys = Counter(
        (e["type"], e.get("opened_at") or e.get("fill_no"))
        for e in events
        if e["type"] in ("bar.closed", "fill")
    )
    return sum(n - 1 for n in keys.values() if n > 1)


def _trial(
    sessions: sessionmaker[Session], traders: Traders, ttl: float
) -> tuple[str, str, float, list[dict[str, Any]]]:
    """One session, its holder killed: (victim, survivor, takeover seconds, the journal)."""
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=BARS)
    _wait(lambda: (h := _holder(sessions, session_id))[0] is not None and h[1] >= 10)
    victim = _holder(sessions, session_id)[0]
    assert victim is not None
    survivor = "b" if victim == "a" else "a"
    traders.kill(victim)
    killed_at = time.monotonic()
    _wait(lambda: _holder(sessions, session_id)[0] == survivor, timeout=ttl + 60)
    takeover = time.monotonic() - killed_at
    _wait(lambda: _holder(sessions, session_id)[2] == "finished", timeout=120, step=0.1)
    with sessions.begin() as db:
        return victim, survivor, takeover, journal(db, session_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=10.0)
    parser.add_argument("--runner", default="tests.trader.stub_runner:run_session")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vtk-"))
    settings = Settings(velocitas_home=home, database_url=args.database_url)
    database_url = embedded.database_url(settings)
    migrate.upgrade("head", database_url=database_url)
    sessions = sessionmaker(get_engine(settings), expire_on_commit=False)
    reference = uninterrupted_journal(sessions, BARS)

    traders = Traders(database_url, args.ttl, args.runner, home)
    traders.start("a")
    traders.start("b")
    takeovers: list[float] = []
    duplicates = mismatches = 0
    try:
        for trial in range(1, args.trials + 1):
            victim, survivor, takeover, events = _trial(sessions, traders, args.ttl)
            duplicates += _duplicates(events)
            mismatches += payloads(events) != reference
            takeovers.append(takeover)
            print(f"trial {trial}: killed {victim}, {survivor} took over in {takeover:.2f} s")
            traders.start(victim)  # ready long before the next trial's kill
    finally:
        traders.stop_all()
    summary = {
        "trials": len(takeovers),
        "ttl_s": args.ttl,
        "takeover_s": {
            "min": round(min(takeovers), 2),
            "median": round(statistics.median(takeovers), 2),
            "max": round(max(takeovers), 2),
        },
        "within_ttl_plus_5s": sum(t <= args.ttl + 5 for t in takeovers),
        "duplicated_events": duplicates,
        "journals_differing_from_uninterrupted": mismatches,
        "load": os.getloadavg(),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

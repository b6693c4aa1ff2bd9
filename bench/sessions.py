"""Benchmark: one trading session at speed max over N 1m bars, journal on, vs run_backtest.

One SMA-cross leg with a stop loss and a trailing stop (the `bridge` path model walks the bar's
ticks while a position is open), journaled to a real PostgreSQL (the embedded server, its own
database `velocitas_bench_sessions`) through `trader.run.run_session` (COPY batches at speed
max: quiet bars as `bars.closed` runs, signals when they change), then the same spec through
`run_backtest` in the same process: the fills must be equal, and the journal must hold every
bar. Also times the runner alone (no database) and the engine alone, to show where the time goes.

    python bench/sessions.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from decimal import Decimal

import numpy as np
import psycopg
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from tests.velocitas.sessions.market import gbm_bars, session_spec
from trader.run import run_session
from velocitas import embedded
from velocitas.db import migrate
from velocitas.db.engine import _engine_for
from velocitas.db.journal import events_after
from velocitas.db.models.accounts import UserAccount
from velocitas.db.models.sessions import SessionJournalEntry, TradingSession
from velocitas.db.urls import libpq_url
from velocitas.domain.bars import BarArrays
from velocitas.engine.runner import run_backtest
from velocitas.sessions.legs import StrategyLegs
from velocitas.sessions.publisher import NullPublisher
from velocitas.sessions.runner import SessionRunner
from velocitas.sessions.spec import SessionSpec

DB = "velocitas_bench_sessions"


class _Feed:
    """The bars in memory (the bench measures the session, not the bar read)."""

    def __init__(self, bars: dict[str, BarArrays]) -> None:
        self._bars = bars

    def bars(self) -> dict[str, BarArrays]:
        return self._bars

    def wait_until(self, market_ns: int, keep_going: object) -> bool:
        return True

    def rebase(self, market_ns: int) -> None:
        return None


def _database() -> str:
    server = libpq_url(embedded.database_url())
    base, _, query = server.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{DB}" + (f"?{query}" if query else "")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    migrate.upgrade("head", database_url=url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.bars
    bars = {"BTCUSDT": gbm_bars(n, seed=7, symbol="BTCUSDT")}
    spec: SessionSpec = session_spec(
        [("BTCUSDT", "sma_cross", {"fast": 20, "slow": 100})],
        stops={"stop_loss": {"kind": "percent", "value": "0.01"},
               "trailing_stop": {"kind": "percent", "value": "0.008"}},
        ticks_per_bar=60,
    )  # fmt: skip
    # Warm the compiled code (numba) on a small run first.
    small = {"BTCUSDT": gbm_bars(3000, seed=1, symbol="BTCUSDT")}
    SessionRunner(uuid.uuid4(), spec, small).step_encoded(2999)
    run_backtest(spec.backtest_spec(), small)

    started = time.perf_counter()
    backtest = run_backtest(spec.backtest_spec(), bars)
    backtest_s = time.perf_counter() - started

    started = time.perf_counter()
    legs = StrategyLegs(spec.backtest_spec(), bars)
    for last in range(4095, n + 4095, 4096):
        legs.run_through(min(last, n - 1))
    engine_s = time.perf_counter() - started

    started = time.perf_counter()
    runner = SessionRunner(uuid.uuid4(), spec, bars)
    rows = 0
    while not runner.done:
        rows += len(runner.step_encoded(min(runner.n - 1, runner.next_bar + 4095)))
    runner_s = time.perf_counter() - started

    url = _database()
    os.environ["DATABASE_URL"] = url
    engine = _engine_for(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as db, db.begin():
        owner = UserAccount(id=uuid.uuid4(), name="bench", role="user")
        db.add(owner)
        db.flush()
        row = TradingSession(owner_id=owner.id, name="bench", spec=spec.model_dump(mode="json"),
                             state="running")  # fmt: skip
        db.add(row)
        db.flush()
        session_id = row.id
    started = time.perf_counter()
    state = run_session(session_id, sessions, NullPublisher(), keep_going=lambda: True,
                        feed=_Feed(bars))  # fmt: skip
    session_s = time.perf_counter() - started
    with sessions() as db:
        journaled = db.execute(
            select(func.count()).where(SessionJournalEntry.session_id == session_id)
        ).scalar_one()
        journal = [e.payload for e in events_after(db, session_id, 0, limit=10_000_000)]
    fills = [e for e in journal if e["type"] == "fill"]
    bars_journaled = sum(
        len(e["opened_at"]) if e["type"] == "bars.closed" else 1
        for e in journal if e["type"] in ("bar.closed", "bars.closed")
    )  # fmt: skip
    ours = [(Decimal(f["price"]), Decimal(f["fee"]), f["reason"]) for f in fills]
    theirs = [(f.price, f.fee, f.reason) for f in backtest.fills]
    ticks_walked = _ticks_walked(legs, n)
    print(f"bars {n}, state {state}, fills {len(ours)} (backtest {len(theirs)}), "
          f"equal fills: {ours == theirs}; bars in the journal: {bars_journaled:,}")  # fmt: skip
    print(f"session, journal on (COPY): {session_s:.2f} s = {n / session_s:,.0f} bars/s, "
          f"{journaled:,} events journaled = {journaled / session_s:,.0f} events/s")  # fmt: skip
    print(f"runner alone (events encoded, no DB): {runner_s:.2f} s = {n / runner_s:,.0f} bars/s "
          f"({rows:,} rows)")  # fmt: skip
    print(f"engine alone (run_bars): {engine_s:.3f} s = {n / engine_s:,.0f} bars/s, "
          f"~{ticks_walked / engine_s / 1e6:,.1f} M ticks/s walked ({ticks_walked:,} ticks of bars "
          f"with a position open)")  # fmt: skip
    print(f"run_backtest (same process): {backtest_s:.3f} s = {n / backtest_s:,.0f} bars/s; "
          f"session / backtest time: {session_s / backtest_s:,.1f}x")  # fmt: skip
    engine.dispose()


def _ticks_walked(legs: StrategyLegs, n: int) -> int:
    """Ticks of the bars that held a position (the bridge walk's bound; it skips bars whose
    range cannot reach a level, so this is what the stops *cover*, not what it draws)."""
    fills = legs.fill_records()
    entries = fills[fills[:, 6] == 0, 0].astype(np.int64)
    exits = fills[fills[:, 6] != 0, 0].astype(np.int64)
    held = int(np.sum(exits[: len(entries)] - entries[: len(exits)]))
    return held * legs.spec.stops.ticks_per_bar if legs.spec.stops.ticks_per_bar else held * 60


if __name__ == "__main__":
    main()

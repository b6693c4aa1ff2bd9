"""The real session engine (trader.run.run_session) under real trader processes: a trader
SIGKILLed in the middle of a paced session is replaced once its lease expires, and the
session ends with the backtest's fills, each journaled once, each order inserted once."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.waiting import wait_until
from tests.trader.conftest import TradersFactory, session_factory
from tests.trader.sessions import journal, row
from tests.velocitas.sessions.market import session_spec
from velocitas.db.accounts import create_user
from velocitas.db.models.sessions import SessionOrder, TradingSession
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.runner import run_backtest
from velocitas.ingest.importer import import_table
from velocitas.sessions.feed import load_replay_bars
from velocitas.synth import synth_bars

pytestmark = [pytest.mark.slow]

BARS = 1500
ENGINE = {"TRADER_RUNNER": "trader.run:run_session"}


def _create(sessions: sessionmaker[Session], spec: dict[str, Any]) -> uuid.UUID:
    with sessions.begin() as db:
        owner = create_user(db, f"u{uuid.uuid4().hex[:8]}").user
        found = TradingSession(owner_id=owner.id, name="t", spec=spec, state="running")
        db.add(found)
        db.flush()
        return found.id


def test_a_killed_trader_is_replaced_and_the_session_ends_with_the_backtests_fills(
    database_url: str, traders: TradersFactory
) -> None:
    import_table(synth_bars(BARS, Timeframe.M1, seed=3), symbol="AAA", timeframe="1m")
    stops = {"stop_loss": {"kind": "percent", "value": "0.004"},
             "trailing_stop": {"kind": "percent", "value": "0.003"}}  # fmt: skip
    # 10 ms a bar: long enough to be killed in the middle, short enough for a test.
    spec = session_spec([("AAA", "sma_cross", {"fast": 5, "slow": 20})], stops=stops, speed=6000.0)
    sessions = session_factory()
    session_id = _create(sessions, spec.model_dump(mode="json"))

    def progress() -> tuple[str | None, int, str]:
        with sessions.begin() as db:
            found = row(db, session_id)
            return found.trader_id, found.bars_done, found.state

    first = traders(database_url, "first", **ENGINE)
    wait_until(lambda: progress()[0] == "first" and progress()[1] >= 100, 120, "first ran 100 bars")
    traders(database_url, "second", **ENGINE)
    first.kill()
    assert progress()[1] < BARS  # the rest is the second trader's work
    wait_until(lambda: progress()[2] == "finished", 180, "the session finished", interval=0.2)

    with sessions.begin() as db:
        events = journal(db, session_id)
        orders = db.execute(
            select(func.count())
            .select_from(SessionOrder)
            .where(SessionOrder.session_id == session_id)
        ).scalar_one()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    fills = [e for e in events if e["type"] == "fill"]
    assert len({e["fill_no"] for e in fills}) == len(fills)  # no fill twice
    assert orders == len(fills)  # no order twice
    backtest = run_backtest(spec.backtest_spec(), load_replay_bars(spec))
    assert [
        (e["leg"], e["side"], Decimal(e["quantity"]), Decimal(e["price"]), Decimal(e["fee"]),
         e["reason"])
        for e in fills
    ] == [
        (f.leg, f.side.value, f.quantity, f.price, f.fee, f.reason) for f in backtest.fills
    ]  # fmt: skip
    assert len(fills) > 10
    assert sum(e["type"] == "bar.closed" for e in events) == BARS

"""PostgreSQL stopped while a trader runs a session: the session pauses itself with the reason
and resumes when the database is back, with every bar journaled once and nothing lost. A
private PostgreSQL (tests/reliability/servers.py): the suite's shared one is never stopped."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.reliability.servers import PrivatePostgres
from tests.support.waiting import wait_until
from tests.trader.conftest import TradersFactory, session_factory
from tests.trader.reference import payloads, uninterrupted_journal
from tests.trader.sessions import journal, make_session, row
from tests.velocitas.sessions.market import session_spec
from velocitas.db.accounts import create_user
from velocitas.db.models.sessions import TradingSession
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.runner import run_backtest
from velocitas.ingest.importer import import_table
from velocitas.sessions.feed import load_replay_bars
from velocitas.synth import synth_bars

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

BARS = 60
OUTAGE_S = 3
ENGINE_BARS = 1500


def test_a_database_outage_pauses_the_session_with_the_reason_and_it_resumes(
    private_postgres: PrivatePostgres, private_database: str, traders: TradersFactory
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=BARS)
    # The lease outlives the outage: the same trader carries on.
    traders(private_database, "only", TRADER_LEASE_TTL_S="30", STUB_STEP_S="0.1")

    def bars_done() -> int:
        with sessions.begin() as db:
            return row(db, session_id).bars_done

    wait_until(lambda: bars_done() >= 5, 60, "the session ran 5 bars")
    private_postgres.stop()
    time.sleep(OUTAGE_S)  # the outage itself
    private_postgres.start()

    def finished() -> bool:
        with sessions.begin() as db:
            return row(db, session_id).state == "finished"

    wait_until(finished, 90, "the session finished", interval=0.2)
    with sessions.begin() as db:
        events = journal(db, session_id)
    states = [e for e in events if e["type"] == "session.state"]
    paused, resumed, ended = states
    assert paused["state"] == "paused"
    assert paused["reason"].startswith("database unreachable for ")
    assert (resumed["state"], resumed["previous"]) == ("running", "paused")
    assert ended["state"] == "finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    # Without the pause and the resume, the journal is the uninterrupted run's.
    assert payloads([e for e in events if e not in (paused, resumed)]) == (
        uninterrupted_journal(sessions, BARS)
    )


def test_the_session_engine_pauses_and_resumes_over_an_outage_with_the_backtests_fills(
    private_postgres: PrivatePostgres, private_database: str, traders: TradersFactory
) -> None:
    """The same outage under the real session engine (trader.run.run_session, paced)."""
    import_table(synth_bars(ENGINE_BARS, Timeframe.M1, seed=3), symbol="AAA", timeframe="1m")
    spec = session_spec([("AAA", "sma_cross", {"fast": 5, "slow": 20})], speed=6000.0)
    sessions = session_factory()
    with sessions.begin() as db:
        owner = create_user(db, "outage").user
        found = TradingSession(
            owner_id=owner.id, name="t", spec=spec.model_dump(mode="json"), state="running"
        )
        db.add(found)
        db.flush()
        session_id = found.id
    traders(
        private_database, "only", TRADER_LEASE_TTL_S="30", TRADER_RUNNER="trader.run:run_session"
    )

    def state_and_bars() -> tuple[str, int]:
        with sessions.begin() as db:
            current = row(db, session_id)
            return current.state, current.bars_done

    wait_until(lambda: state_and_bars()[1] >= 100, 180, "the session ran 100 bars")
    private_postgres.stop()
    time.sleep(OUTAGE_S)
    private_postgres.start()
    wait_until(lambda: state_and_bars()[0] == "finished", 180, "the session finished", interval=0.2)

    with sessions.begin() as db:
        events = journal(db, session_id)
    reasons = [e["reason"] for e in events if e["type"] == "session.state"]
    assert reasons[0].startswith("database unreachable for ")
    assert reasons[1].startswith("database reachable again")
    fills = [e for e in events if e["type"] == "fill"]
    backtest = run_backtest(spec.backtest_spec(), load_replay_bars(spec))
    assert [(e["side"], Decimal(e["price"]), Decimal(e["fee"])) for e in fills] == [
        (f.side.value, f.price, f.fee) for f in backtest.fills
    ]
    assert sum(e["type"] == "bar.closed" for e in events) == ENGINE_BARS

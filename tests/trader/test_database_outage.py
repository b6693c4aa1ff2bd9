"""PostgreSQL stopped while a trader runs a session: the session pauses itself with the reason
and resumes when the database is back, with every bar journaled once and nothing lost. A
private PostgreSQL (tests/reliability/servers.py): the suite's shared one is never stopped."""

from __future__ import annotations

import time

import pytest

from tests.reliability.servers import PrivatePostgres
from tests.support.waiting import wait_until
from tests.trader.conftest import TradersFactory, session_factory
from tests.trader.reference import payloads, uninterrupted_journal
from tests.trader.sessions import journal, make_session, row

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

BARS = 60
OUTAGE_S = 3


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

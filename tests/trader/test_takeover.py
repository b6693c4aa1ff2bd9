"""Real trader processes share sessions through leases: a trader killed with SIGKILL has its
session taken over once the lease expires, one stopped with SIGTERM hands it over at once,
and either way the journal ends exactly as an uninterrupted run's: no event twice, none lost.

The runner is the test stub (tests.trader.stub_runner): these tests are about the service,
its leases and the journal's guard; the session engine's own resume is the trader's tests'."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.waiting import wait_until
from tests.trader.conftest import TradersFactory, session_factory
from tests.trader.reference import payloads, uninterrupted_journal
from tests.trader.sessions import journal, make_session, row

pytestmark = [pytest.mark.slow]

BARS = 80


def _holder_and_progress(
    sessions: sessionmaker[Session], session_id: uuid.UUID
) -> tuple[str | None, int, str]:
    with sessions.begin() as db:
        found = row(db, session_id)
        return found.trader_id, found.bars_done, found.state


def _running_on(
    sessions: sessionmaker[Session], session_id: uuid.UUID, trader_id: str, bars: int
) -> None:
    wait_until(
        lambda: (
            (holder := _holder_and_progress(sessions, session_id))[0] == trader_id
            and holder[1] >= bars
        ),
        60,
        f"{trader_id} ran {bars} bars of the session",
    )


def _finished(sessions: sessionmaker[Session], session_id: uuid.UUID, timeout: float) -> None:
    wait_until(
        lambda: _holder_and_progress(sessions, session_id)[2] == "finished",
        timeout,
        "the session finished",
        interval=0.2,
    )


def _assert_journal_is_the_uninterrupted_one(
    sessions: sessionmaker[Session], session_id: uuid.UUID
) -> None:
    with sessions.begin() as db:
        events = journal(db, session_id)
    assert [e["seq"] for e in events] == list(range(1, BARS + 2))  # no gap, no repeat
    assert payloads(events) == uninterrupted_journal(sessions, BARS)


def test_a_killed_traders_session_is_taken_over_and_ends_as_if_uninterrupted(
    database_url: str, traders: TradersFactory
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=BARS)
    first = traders(database_url, "first")
    _running_on(sessions, session_id, "first", 5)
    traders(database_url, "second")
    first.kill()
    _, done_when_killed, _ = _holder_and_progress(sessions, session_id)
    assert done_when_killed < BARS  # the rest can only be the second trader's work

    _finished(sessions, session_id, timeout=90)
    _assert_journal_is_the_uninterrupted_one(sessions, session_id)
    assert _holder_and_progress(sessions, session_id)[0] is None  # released at the end


def test_sigterm_drains_a_trader_and_hands_its_session_over_at_once(
    database_url: str, traders: TradersFactory
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=BARS)
    # A lease far longer than the test may wait: the second trader can only take the session
    # because the first one released it.
    first = traders(database_url, "first", TRADER_LEASE_TTL_S="600")
    _running_on(sessions, session_id, "first", 5)
    traders(database_url, "second", TRADER_LEASE_TTL_S="600")
    assert first.terminate() == 0
    holder, done_when_stopped, state = _holder_and_progress(sessions, session_id)
    assert holder != "first"
    assert state == "running"
    assert done_when_stopped < BARS

    _finished(sessions, session_id, timeout=90)
    _assert_journal_is_the_uninterrupted_one(sessions, session_id)


def test_traders_share_sessions_and_run_each_exactly_once(
    database_url: str, traders: TradersFactory
) -> None:
    sessions = session_factory()
    with sessions.begin() as db:
        session_ids = [make_session(db, bars_total=20) for _ in range(5)]
    for name in ("one", "two", "three"):
        traders(database_url, name)
    for session_id in session_ids:
        _finished(sessions, session_id, timeout=120)
    reference = uninterrupted_journal(sessions, 20)
    with sessions.begin() as db:
        for session_id in session_ids:
            assert payloads(journal(db, session_id)) == reference

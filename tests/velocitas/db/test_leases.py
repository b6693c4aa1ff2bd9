"""Leases on trading sessions (velocitas.db.leases) and the journal's check of them, on a real
PostgreSQL: one trader per session, takeover only after expiry, lost leases append nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.trader.sessions import expire_lease, journal, make_session, row
from velocitas.db import leases
from velocitas.db.engine import get_engine
from velocitas.db.journal import append_events
from velocitas.domain.session_events import RiskEvent, SessionEvent, SessionState

TTL = 30.0


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


def _event() -> SessionEvent:
    return SessionEvent(
        state=SessionState.RUNNING, reason="test", at=datetime(2024, 1, 1, tzinfo=UTC)
    )


def test_claim_takes_a_running_session_and_stamps_the_lease(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        session_id = make_session(db)
        for state in ("created", "paused", "finished"):
            make_session(db, state=state)
    with sessions.begin() as db:
        claim = leases.claim(db, "a", TTL)
    assert claim == leases.Claim(session_id, None)
    with sessions.begin() as db:
        held = row(db, session_id)
        assert held.trader_id == "a"
        assert held.lease_expires_at is not None
        assert held.heartbeat_at is not None
        assert (held.lease_expires_at - held.heartbeat_at).total_seconds() == TTL
        assert leases.claim(db, "b", TTL) is None  # held, and nothing else is running


def test_a_session_killed_while_no_trader_held_it_is_claimed_until_flattened(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        session_id = make_session(db, state="killed")
    with sessions.begin() as db:
        assert leases.claim(db, "a", TTL) == leases.Claim(session_id, None)
        flattened = RiskEvent(
            type="risk.killed",
            rule="manual_kill",
            reason="test",
            at=datetime(2024, 1, 1, tzinfo=UTC),
        )
        append_events(db, session_id, [flattened], trader_id="a")
        assert leases.release(db, "a", session_id)
    with sessions.begin() as db:
        assert leases.claim(db, "b", TTL) is None


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        session_id = make_session(db)
        leases.claim(db, "a", TTL)
        expire_lease(db, session_id)
    with sessions.begin() as db:
        assert leases.claim(db, "b", TTL) == leases.Claim(session_id, "a")
    with sessions.begin() as db:
        assert leases.renew(db, "a", [session_id], TTL) == {}
        assert leases.renew(db, "b", [session_id], TTL) == {session_id: 0}
        assert not leases.release(db, "a", session_id)  # not a's to release


def test_release_frees_the_session_for_another_trader_at_once(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        session_id = make_session(db)
        leases.claim(db, "a", TTL)
    with sessions.begin() as db:
        assert leases.release(db, "a", session_id)
    with sessions.begin() as db:
        assert leases.claim(db, "b", TTL) == leases.Claim(session_id, None)


def test_concurrent_claims_skip_a_row_being_claimed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        first, second = make_session(db), make_session(db)
    with sessions.begin() as a, sessions.begin() as b:
        claim_a = leases.claim(a, "a", TTL)  # not committed: its row stays locked
        claim_b = leases.claim(b, "b", TTL)
        assert claim_a is not None
        assert claim_b is not None
        assert {claim_a.session_id, claim_b.session_id} == {first, second}


def test_an_append_by_a_trader_that_lost_the_lease_raises_and_writes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        session_id = make_session(db)
        leases.claim(db, "a", TTL)
    with sessions.begin() as db:
        append_events(db, session_id, [_event()], trader_id="a")
        with leases.held_by("a"):
            append_events(db, session_id, [_event()])
        expire_lease(db, session_id)
        leases.claim(db, "b", TTL)
    with sessions.begin() as db, pytest.raises(leases.LeaseLost, match="now held by b"):
        append_events(db, session_id, [_event()], trader_id="a", bars_done=99)
    with sessions.begin() as db, leases.held_by("a"), pytest.raises(leases.LeaseLost):
        append_events(db, session_id, [_event()])
    with sessions.begin() as db:
        assert [e["seq"] for e in journal(db, session_id)] == [1, 2]
        assert row(db, session_id).bars_done == 0
        # The gateway appends without a lease (a user's pause): never refused.
        append_events(db, session_id, [_event()])
        assert row(db, session_id).last_seq == 3

"""velocitas.db.journal_copy: COPY-appended events read back as `append_events` stores them,
numbered after the journal's head, with the row's changes in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.journal import append_events, events_after
from velocitas.db.journal_copy import EncodedEvent, append_encoded
from velocitas.db.leases import LeaseLost, held_by
from velocitas.db.models.sessions import TradingSession
from velocitas.domain.session_events import RiskEvent, SessionEvent, SessionState

AT = datetime(2024, 1, 1, 0, 1, tzinfo=UTC)


def test_copied_events_read_back_like_appended_ones(database_url: str) -> None:
    with session_scope() as db:
        owner = create_user(db, "copier").user
        row = TradingSession(owner_id=owner.id, name="c", spec={}, state="running")
        db.add(row)
        db.flush()
        session_id = row.id
    tricky = RiskEvent(
        type="risk.rejected", rule="x", reason='a "quoted" \\ back\\slash, tab\t, é, 💥',
        order_id=uuid.uuid4(), at=AT,
    )  # fmt: skip
    state = SessionEvent(state=SessionState.RUNNING, reason="go", at=AT)
    with session_scope() as db:
        append_events(db, session_id, [state])
    with session_scope() as db:
        copied = append_encoded(
            db, session_id,
            [EncodedEvent(tricky.type, tricky.v, tricky.at, tricky.model_dump_json()),
             EncodedEvent(state.type, state.v, "2024-01-01T00:01:00Z", state.model_dump_json())],
            bars_done=7,
        )  # fmt: skip
    assert [e.seq for e in copied] == [2, 3]
    with session_scope() as db:
        events = events_after(db, session_id, 0)
        stored = db.get(TradingSession, session_id)
        assert stored is not None
        assert (stored.last_seq, stored.bars_done) == (3, 7)
    expected = [state, tricky, state]
    assert [e.payload for e in events] == [e.model_dump(mode="json") for e in expected]
    assert [e.payload for e in copied] == [e.model_dump(mode="json") for e in expected[1:]]


def test_copy_appends_only_while_the_trader_holds_the_lease(database_url: str) -> None:
    """The journal has one writer at speed max too: a trader whose lease was taken over
    appends nothing (and the holder still can)."""
    with session_scope() as db:
        owner = create_user(db, "copy-lease").user
        row = TradingSession(
            owner_id=owner.id, name="c", spec={}, state="running", trader_id="holder"
        )
        db.add(row)
        db.flush()
        session_id = row.id
    state = SessionEvent(state=SessionState.RUNNING, reason="go", at=AT)
    event = EncodedEvent(state.type, state.v, state.at, state.model_dump_json())
    with pytest.raises(LeaseLost), held_by("stale"), session_scope() as db:
        append_encoded(db, session_id, [event])
    with held_by("holder"), session_scope() as db:
        assert [e.seq for e in append_encoded(db, session_id, [event])] == [1]
    with session_scope() as db:
        assert [e.seq for e in events_after(db, session_id, 0)] == [1]

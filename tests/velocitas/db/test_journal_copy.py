"""velocitas.db.journal_copy: COPY-appended events read back as `append_events` stores them,
numbered after the journal's head, with the row's changes in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.journal import append_events, events_after
from velocitas.db.journal_copy import EncodedEvent, append_encoded
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

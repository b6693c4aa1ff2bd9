"""What a session's journal must be: the same session run once, uninterrupted, in-process."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.trader import stub_runner
from tests.trader.sessions import journal, make_session
from velocitas.domain.session_events import SessionState
from velocitas.sessions.publisher import NullPublisher


def uninterrupted_journal(sessions: sessionmaker[Session], bars: int) -> list[dict[str, Any]]:
    """The payloads (no seq) of a session of `bars` bars run start to end by one runner."""
    with sessions.begin() as db:
        session_id = make_session(db, bars_total=bars)
    state = stub_runner.run_session(session_id, sessions, NullPublisher(), keep_going=lambda: True)
    assert state == SessionState.FINISHED
    with sessions.begin() as db:
        return payloads(journal(db, session_id))


def payloads(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.items() if k != "seq"} for event in events]

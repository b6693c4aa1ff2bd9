"""A test-only session runner with `trader.run.run_session`'s signature, standing in until the
real one is on this branch: one `bar.closed` per step, resumed from the row's `bars_done`
(its state is the journal's head), `STUB_STEP_S` seconds apart, then `finished`. Enough to
prove leases, takeover and that no event is appended twice; the service runs it the same
way it runs the real runner (TRADER_RUNNER=tests.trader.stub_runner:run_session)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from velocitas.db.journal import append_events
from velocitas.db.models.sessions import TradingSession
from velocitas.domain.session_events import BarClosed, SessionEvent, SessionState
from velocitas.sessions.publisher import SessionPublisher

START = datetime(2024, 1, 1, tzinfo=UTC)


def bar(step: int) -> BarClosed:
    """The `step`th bar: the same for every run, so two runs' journals compare equal."""
    price = Decimal(100 + step)
    opened_at = START + timedelta(minutes=step)
    return BarClosed(
        symbol="STUB",
        timeframe="1m",
        opened_at=opened_at,
        open=price,
        high=price + 1,
        low=price - 1,
        close=price,
        volume=Decimal(1),
        at=opened_at + timedelta(minutes=1),
    )


def run_session(
    session_id: uuid.UUID,
    sessions: sessionmaker[Session],
    publisher: SessionPublisher,
    *,
    keep_going: Callable[[], bool],
) -> SessionState:
    step_s = float(os.environ.get("STUB_STEP_S", "0.05"))
    while keep_going():
        ended: SessionState | None = None
        with sessions.begin() as db:
            state, done, total = db.execute(
                select(TradingSession.state, TradingSession.bars_done, TradingSession.bars_total)
                .where(TradingSession.id == session_id)
                .with_for_update()
            ).one()
            if state != SessionState.RUNNING:
                return SessionState(state)
            event = bar(done)
            if done >= total:
                end = SessionEvent(
                    state=SessionState.FINISHED,
                    previous=SessionState.RUNNING,
                    reason="end of the range",
                    at=bar(done - 1).at,
                )
                journaled = append_events(db, session_id, [end], state="finished")
                ended = SessionState.FINISHED
            else:
                journaled = append_events(
                    db, session_id, [event], bars_done=done + 1, clock=event.at
                )
        publisher.events(journaled)  # after the commit
        if ended is not None:
            return ended
        time.sleep(step_s)
    return SessionState.RUNNING

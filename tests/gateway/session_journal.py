"""Sessions and journaled events for the streaming tests, written as the trader writes them:
`append_events` in a transaction, published (`RedisPublisher`) after the commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from velocitas.db.engine import session_scope
from velocitas.db.journal import JournaledEvent, append_events
from velocitas.db.models.sessions import TradingSession
from velocitas.domain.session_events import (
    BarClosed,
    SessionEvent,
    SessionEventModel,
    SessionState,
    TradeEvent,
)
from velocitas.sessions.publisher import SessionPublisher

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def open_session(owner_id: uuid.UUID) -> uuid.UUID:
    """A running session of `owner_id` with an empty journal."""
    with session_scope() as db:
        row = TradingSession(owner_id=owner_id, name="watched", spec={}, state="running")
        db.add(row)
        db.flush()
        return row.id


def journal(
    session_id: uuid.UUID,
    events: list[SessionEventModel],
    publisher: SessionPublisher | None = None,
) -> list[JournaledEvent]:
    """Append `events`, commit, then publish them (unless `publisher` is None: a dropped
    message, as while Redis is away)."""
    with session_scope() as db:
        journaled = append_events(db, session_id, events)
    if publisher is not None:
        publisher.events(journaled)
    return journaled


def bar(i: int) -> BarClosed:
    price = Decimal(100) + Decimal(i) / 8
    return BarClosed(
        symbol="BTCUSDT", timeframe="1m", opened_at=T0 + timedelta(minutes=i),
        open=price, high=price + 1, low=price - 1, close=price + Decimal("0.5"),
        volume=Decimal("1.25"), at=T0 + timedelta(minutes=i + 1),
    )  # fmt: skip


def fill(i: int) -> TradeEvent:
    return TradeEvent(
        fill_no=i, symbol="BTCUSDT", side="buy" if i % 2 else "sell",
        quantity=Decimal("0.01"), price=Decimal("100.5") + i, fee=Decimal("0.001"),
        reason="signal", at=T0 + timedelta(minutes=i),
    )  # fmt: skip


def state(reason: str) -> SessionEvent:
    return SessionEvent(state=SessionState.RUNNING, reason=reason, at=T0)

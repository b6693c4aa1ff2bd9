"""Trading sessions: the session row, its journal, and its orders.

`trading_session` holds what a session is (`spec`, the validated `SessionSpec` as JSON), where it
is (`state`, `clock`, `bars_done`, `last_seq`) and who runs it (the lease: `trader_id` until
`lease_expires_at`, renewed by the trader's heartbeat). `session_event` is the journal: one row
per event (`velocitas.domain.session_events`), numbered 1, 2, 3, ... per session, appended in the
same transaction as the change it records, so the journal and the state never disagree.
`session_order` is every order (a strategy leg's or a manual one) with its current status;
`client_order_id` is unique per session so a retried request creates one order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from velocitas.db.models.base import Base, Money

SESSION_STATES = ("created", "running", "paused", "stopped", "killed", "finished", "failed")
ORDER_STATES = ("new", "accepted", "filled", "cancelled", "rejected", "expired")
ORDER_ORIGINS = ("strategy", "manual")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class TradingSession(Base):
    """One trading session of one user (a replayed market traded through the paper broker)."""

    __tablename__ = "trading_session"
    __table_args__ = (
        CheckConstraint(_one_of("state", SESSION_STATES), name="state"),
        Index("ix_trading_session_owner_created", "owner_id", "created_at", "id"),
        Index("ix_trading_session_state_lease", "state", "lease_expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16), default="created")
    reason: Mapped[str | None] = mapped_column(Text)
    """Why the session is in its state (the last `session.state` event's reason)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    clock: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The market instant the replay has reached (None before it starts)."""
    bars_done: Mapped[int] = mapped_column(Integer, default=0)
    bars_total: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """The journal's head: the seq of the last event appended (0: none yet)."""
    trader_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionJournalEntry(Base):
    """One journaled event: `payload` is the event's JSON (`velocitas.domain.session_events`),
    `at` its market instant, `recorded_at` the wall-clock instant it was stored."""

    __tablename__ = "session_event"
    __table_args__ = (Index("ix_session_event_type", "session_id", "type", "seq"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trading_session.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SessionOrder(Base):
    """An order of a session, strategy or manual, with its current status. A strategy order's
    id is derived from the session and the engine's fill number (uuid5), so a session resumed
    from its journal re-derives the same ids and never inserts an order twice."""

    __tablename__ = "session_order"
    __table_args__ = (
        UniqueConstraint("session_id", "client_order_id", name="uq_session_order_client_id"),
        CheckConstraint(_one_of("status", ORDER_STATES), name="status"),
        CheckConstraint(_one_of("origin", ORDER_ORIGINS), name="origin"),
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
        CheckConstraint("type IN ('market', 'limit')", name="type"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_session_order_session_created", "session_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trading_session.id", ondelete="CASCADE")
    )
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(8))
    leg: Mapped[int | None] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Money)
    limit_price: Mapped[Decimal | None] = mapped_column(Money)
    stop_loss: Mapped[Decimal | None] = mapped_column(Money)
    take_profit: Mapped[Decimal | None] = mapped_column(Money)
    trailing_stop: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default="new")
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    filled_price: Mapped[Decimal | None] = mapped_column(Money)
    fee: Mapped[Decimal | None] = mapped_column(Money)
    filled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The market instant of the fill (the tick's)."""

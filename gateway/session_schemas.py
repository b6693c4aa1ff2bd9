"""`/sessions` request and response bodies. Money and quantities are decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from velocitas.db.models.sessions import SessionOrder, TradingSession
from velocitas.domain.session_events import SessionState
from velocitas.domain.wire import decimal_text
from velocitas.engine.spec import DECIMALS, MAX_AMOUNT
from velocitas.sessions.spec import checked_speed

__all__ = [
    "EventPage",
    "FillPage",
    "OrderPage",
    "PnlPublic",
    "PnlSums",
    "PositionPublic",
    "SessionOrderCreate",
    "SessionOrderPublic",
    "SessionPage",
    "SessionPublic",
    "StateChange",
]


Money = Annotated[Decimal, PlainSerializer(decimal_text, return_type=str, when_used="json")]
"""A Decimal written in plain notation ("0.00000001", never "1E-8")."""


class SessionPublic(BaseModel):
    """A trading session: its spec, state (and why), replay clock and progress."""

    id: uuid.UUID
    name: str
    state: SessionState
    reason: str | None
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    clock: datetime | None
    """The market instant the replay has reached (null before it starts)."""
    bars_done: int
    bars_total: int
    progress: float
    """bars_done / bars_total, 0 before the trader has counted the bars."""
    last_seq: int
    """The journal's head: `GET /sessions/{id}/events?after=last_seq` waits for the next."""
    trader_id: str | None

    @classmethod
    def of(cls, row: TradingSession) -> SessionPublic:
        return cls(
            id=row.id,
            name=row.name,
            state=SessionState(row.state),
            reason=row.reason,
            spec=row.spec,
            created_at=row.created_at,
            updated_at=row.updated_at,
            clock=row.clock,
            bars_done=row.bars_done,
            bars_total=row.bars_total,
            progress=row.bars_done / row.bars_total if row.bars_total else 0.0,
            last_seq=row.last_seq,
            trader_id=row.trader_id,
        )


class SessionPage(BaseModel):
    items: list[SessionPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class StateChange(BaseModel):
    """Why the state changes (journaled with the `session.state` event); optional."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=1, max_length=500)


class SpeedChange(BaseModel):
    """The replay's new speed: real time x N, or `"max"`; and why (optional)."""

    model_config = ConfigDict(extra="forbid")

    speed: float | Literal["max"] = Field(examples=[60, "max"])
    reason: str | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("speed")
    @classmethod
    def _speed_in_range(cls, value: float | str) -> float | str:
        return checked_speed(value)


_Price = Field(default=None, gt=0, le=MAX_AMOUNT, decimal_places=DECIMALS)


class SessionOrderCreate(BaseModel):
    """A manual order. `limit_price` is required for a `limit` order and refused on a
    `market` one. `stop_loss` and `take_profit` are price levels, `trailing_stop` a price
    distance from the position's high-water mark (low-water for a short). A retry with the
    same `client_order_id` returns the first order instead of placing another."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=64, examples=["BTCUSDT"])
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"] = "market"
    quantity: Decimal = Field(gt=0, le=MAX_AMOUNT, decimal_places=DECIMALS)
    limit_price: Decimal | None = _Price
    stop_loss: Decimal | None = _Price
    take_profit: Decimal | None = _Price
    trailing_stop: Decimal | None = _Price
    client_order_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    )


class SessionOrderPublic(BaseModel):
    """An order of the session, strategy or manual, with its current status."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_order_id: str | None
    origin: Literal["strategy", "manual"]
    leg: int | None
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    quantity: Money
    limit_price: Money | None
    stop_loss: Money | None
    take_profit: Money | None
    trailing_stop: Money | None
    status: Literal["new", "accepted", "filled", "cancelled", "rejected", "expired"]
    reason: str | None
    created_at: datetime
    updated_at: datetime
    filled_price: Money | None
    fee: Money | None
    filled_at: datetime | None

    @classmethod
    def of(cls, row: SessionOrder) -> SessionOrderPublic:
        return cls.model_validate(row)


class OrderPage(BaseModel):
    items: list[SessionOrderPublic]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class FillPage(BaseModel):
    """`fill` events (`velocitas.domain.session_events.TradeEvent`), oldest first, each with
    its journal `seq`."""

    items: list[dict[str, Any]]
    next_after: int | None
    """Pass as `after` for the next page; null on the last page."""


class PositionPublic(BaseModel):
    """A leg's (or the manual book's: `leg` null) current position in one symbol."""

    leg: int | None
    symbol: str
    side: Literal["long", "short", "flat"]
    quantity: Money
    average_price: Money | None
    realised_pnl: Money
    unrealised_pnl: Money
    at: datetime
    """The market instant of the fill that last changed it."""


class LegPnlPublic(BaseModel):
    leg: int | None
    symbol: str
    strategy: str | None
    realised: Money
    unrealised: Money


class PnlSums(BaseModel):
    realised: Money
    unrealised: Money
    total: Money


class PnlPublic(BaseModel):
    """P&L as of the latest snapshot (`at`; null before the first): per leg, summed per
    symbol and per strategy (the manual book under `manual`), overall, cash and equity."""

    legs: list[LegPnlPublic]
    by_symbol: dict[str, PnlSums]
    by_strategy: dict[str, PnlSums]
    realised: Money
    unrealised: Money
    total: Money
    cash: Money
    equity: Money
    at: datetime | None


class EventPage(BaseModel):
    """Journaled events after `after`, oldest first, as they travel on the WebSocket:
    `{"seq", "session", "event"}`; `last_seq` is the journal's head."""

    events: list[dict[str, Any]]
    last_seq: int

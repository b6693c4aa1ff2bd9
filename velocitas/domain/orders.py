"""`Order`: an instruction to buy or sell, with the enums that describe it.

The backtest engine has no order objects (its kernel turns target sides into fills directly);
`Order` is the shape an order management system keeps for each instruction it sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = ["Order", "OrderSide", "OrderStatus", "OrderType"]


class OrderSide(StrEnum):
    """Which way an order (or the fill it produced) trades."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """`market` fills at the next available price; `limit` at `limit_price` or better."""

    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    """Where an order is in its life: submitted, accepted by the venue, (partly) filled, or
    ended without filling completely."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def finished(self) -> bool:
        """True once the order can change no more."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class Order:
    """One order of one leg. Money is Decimal; `created_at` is timezone-aware (UTC).

    `stop_loss` and `take_profit` are price levels of the protective exits attached to the
    position the order opens; `trailing_stop` is a distance in price units that follows the
    best price since entry. `client_order_id` is the caller's own id, for idempotent retries.
    """

    id: uuid.UUID
    leg: int
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    created_at: datetime
    limit_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None
    status: OrderStatus = OrderStatus.SUBMITTED
    client_order_id: str | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order quantity must be positive, got {self.quantity}")
        if (self.type is OrderType.LIMIT) != (self.limit_price is not None):
            raise ValueError("a limit order needs a limit_price, and only a limit order has one")
        for name in ("limit_price", "stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"order {name} must be positive, got {value}")
        if self.created_at.utcoffset() is None:
            raise ValueError("order created_at must be timezone-aware (UTC)")

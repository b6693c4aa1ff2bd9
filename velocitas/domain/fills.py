"""`Fill`: one execution, a quantity of a symbol bought or sold at one price."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from velocitas.domain.orders import OrderSide
from velocitas.domain.wire import decimal_text, instant_text

__all__ = ["Fill"]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of leg `leg`. In a backtest, `bar_index` is the bar it happened in (of the
    run's time grid) and `filled_at` that bar's opening instant; `reason` says why it traded
    ("entry", "signal", "stop_loss", ...)."""

    leg: int
    symbol: str
    bar_index: int
    filled_at: datetime
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: Decimal as plain text, instants as ISO-8601 UTC."""
        return {
            "leg": self.leg,
            "symbol": self.symbol,
            "bar_index": self.bar_index,
            "filled_at": instant_text(self.filled_at),
            "side": self.side.value,
            "quantity": decimal_text(self.quantity),
            "price": decimal_text(self.price),
            "fee": decimal_text(self.fee),
            "reason": self.reason,
        }

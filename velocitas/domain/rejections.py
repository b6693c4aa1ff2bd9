"""`Rejection`: an order that a rule refused, so it never filled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from velocitas.domain.orders import OrderSide
from velocitas.domain.wire import decimal_text, instant_text

__all__ = ["Rejection"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """An entry order refused by a risk rule (cash, position size, daily loss, drawdown, cooldown)
    or by sizing; `quantity` is 0 when it was refused before sizing. `reason` names the rule."""

    leg: int
    symbol: str
    bar_index: int
    rejected_at: datetime
    side: OrderSide
    quantity: Decimal
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "leg": self.leg,
            "symbol": self.symbol,
            "bar_index": self.bar_index,
            "rejected_at": instant_text(self.rejected_at),
            "side": self.side.value,
            "quantity": decimal_text(self.quantity),
            "reason": self.reason,
        }

"""`Position`: what one leg holds in one symbol, and `PositionSide`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = ["Position", "PositionSide"]


class PositionSide(StrEnum):
    """Long (holding), short (owing) or flat (nothing)."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class Position:
    """Leg `leg`'s holding in `symbol`: `quantity` (never negative; `side` gives the direction)
    entered at `entry_price` on average since `opened_at`. A flat position has quantity 0 and
    neither entry price nor opening instant (`Position.flat`)."""

    leg: int
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry_price: Decimal | None
    opened_at: datetime | None

    def __post_init__(self) -> None:
        if self.side is PositionSide.FLAT:
            if self.quantity != 0 or self.entry_price is not None or self.opened_at is not None:
                raise ValueError("a flat position has quantity 0, no entry_price, no opened_at")
            return
        if self.quantity <= 0:
            raise ValueError(f"a {self.side} position's quantity must be positive")
        if self.entry_price is None or self.opened_at is None:
            raise ValueError(f"a {self.side} position needs an entry_price and opened_at")
        if self.opened_at.utcoffset() is None:
            raise ValueError("position opened_at must be timezone-aware (UTC)")

    @classmethod
    def flat(cls, leg: int, symbol: str) -> Position:
        """Leg `leg` holding nothing in `symbol`."""
        return cls(leg, symbol, PositionSide.FLAT, Decimal(0), None, None)

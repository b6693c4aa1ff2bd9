"""`Trade`: a closed round trip, the one declaration every layer uses.

The engine's ledger builds trades; storage keeps every field but the bar indices (which only
mean something on the run's own time grid) in `backtest_trade`, whose columns the COPY writer
reads (`velocitas.db.jobs.TRADE_COLUMNS`); the gateway's `TradePublic` is built from those
fields with the types declared here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from velocitas.domain.positions import PositionSide
from velocitas.domain.wire import decimal_text, instant_text

__all__ = ["Trade"]


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip of leg `leg`: one entry fill and the exit fill that closed it.

    `entry_bar`/`exit_bar` index the run's time grid and `entry_at`/`exit_at` are those bars'
    opening instants. Money is Decimal, exact: `net_pnl == gross_pnl - fees`.
    """

    leg: int
    symbol: str
    strategy: str
    side: Literal[PositionSide.LONG, PositionSide.SHORT]
    quantity: Decimal
    entry_bar: int
    entry_at: datetime
    entry_price: Decimal
    exit_bar: int
    exit_at: datetime
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    exit_reason: str

    @property
    def return_fraction(self) -> float:
        """Net P&L over the entry notional."""
        return float(self.net_pnl / (self.quantity * self.entry_price))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: Decimal as plain text, instants as ISO-8601 UTC. Part of every stored
        result: the keys, their order and their spelling never change."""
        return {
            "leg": self.leg,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "side": self.side.value,
            "quantity": decimal_text(self.quantity),
            "entry_bar": self.entry_bar,
            "entry_at": instant_text(self.entry_at),
            "entry_price": decimal_text(self.entry_price),
            "exit_bar": self.exit_bar,
            "exit_at": instant_text(self.exit_at),
            "exit_price": decimal_text(self.exit_price),
            "gross_pnl": decimal_text(self.gross_pnl),
            "fees": decimal_text(self.fees),
            "net_pnl": decimal_text(self.net_pnl),
            "exit_reason": self.exit_reason,
        }

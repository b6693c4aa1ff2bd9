"""`LegBook`: one position (a strategy leg's, or the manual book's in one symbol) in Decimal.

The engine keeps its positions in float64 for speed; the journal speaks Decimal, re-priced the
way the backtest's ledger re-prices fills (`velocitas.engine.ledger`): quantity = lots x lot,
price on the 8-decimal grid, fee = rate x quantity x price + fixed. Realised P&L is net of both
fees of each round trip (a backtest trade's `net_pnl`); unrealised P&L marks the open quantity
at the latest price less the entry fee already paid, so cash + Σ position value ==
initial cash + realised + unrealised, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

__all__ = ["EXACT", "LegBook"]

EXACT = Context(prec=60)
"""Exact for every product of an 8-decimal price, a lot-grid quantity and a fee rate."""
ZERO = Decimal(0)


@dataclass(slots=True)
class LegBook:
    """Signed quantity (> 0 long, < 0 short), average entry price, entry fees still open,
    realised P&L so far, the latest mark, and the best price since entry (trailing stops)."""

    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    open_fees: Decimal = ZERO
    realised: Decimal = ZERO
    mark: Decimal | None = None
    best: Decimal | None = None

    @property
    def side(self) -> str:
        return "long" if self.quantity > 0 else "short" if self.quantity < 0 else "flat"

    def apply(self, buy: bool, quantity: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Book a fill; returns the cash it moves (−cost for a buy, +proceeds for a sell)."""
        signed = quantity if buy else -quantity
        with localcontext(EXACT):
            if self.quantity == 0 or (self.quantity > 0) == buy:  # opens or adds
                total = abs(self.quantity) + quantity
                self.average_price = (
                    abs(self.quantity) * self.average_price + quantity * price
                ) / total
                self.open_fees += fee
                if self.quantity == 0:
                    self.best = price
            else:  # reduces, closes (or flips: the rest opens at `price`)
                closed = min(quantity, abs(self.quantity))
                direction = 1 if self.quantity > 0 else -1
                share = closed / abs(self.quantity)
                entry_fees = self.open_fees * share
                self.realised += (
                    direction * closed * (price - self.average_price)
                    - entry_fees
                    - fee * closed / quantity
                )
                self.open_fees -= entry_fees
                rest = quantity - closed
                if rest > 0:
                    self.average_price = price
                    self.open_fees = fee * rest / quantity
                    self.best = price
                elif abs(self.quantity) == closed:
                    self.average_price = ZERO
                    self.open_fees = ZERO
                    self.best = None
            self.quantity += signed
            self.mark = price
            return -quantity * price - fee if buy else quantity * price - fee

    def unrealised(self) -> Decimal:
        if self.quantity == 0 or self.mark is None:
            return ZERO
        with localcontext(EXACT):
            return self.quantity * (self.mark - self.average_price) - self.open_fees

    def value(self) -> Decimal:
        """What the open quantity is worth at the mark (negative for a short)."""
        if self.quantity == 0 or self.mark is None:
            return ZERO
        with localcontext(EXACT):
            return self.quantity * self.mark

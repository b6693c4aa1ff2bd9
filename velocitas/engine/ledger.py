"""The exact ledger: every reported fee, P&L and the final equity, recomputed from the fills.

The kernel computes in float64 for speed; the ledger re-prices each fill exactly. A fill's
price is the kernel's price rounded to `PRICE_DECIMALS` places, its quantity is whole lots ×
`lot_size`, its fee is `rate × quantity × price + fixed`, all in exact arithmetic. So, for a
book that ends flat,

    final_equity == initial_cash + Σ trade.net_pnl        (exactly)

`decimal_ledger` states the rules in Python's Decimal and is the reference; `build_ledger`
computes the same Decimals in scaled integers (`velocitas.engine.exact_ledger`, about 100x
faster) and replays the run with `decimal_ledger` only when an amount would leave the integers'
range (`velocitas.engine.fixed_point`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

import numpy as np

from velocitas.domain.fills import Fill
from velocitas.domain.orders import OrderSide
from velocitas.domain.positions import PositionSide
from velocitas.domain.rejections import Rejection
from velocitas.domain.trades import Trade
from velocitas.engine.codes import (
    F_BAR,
    F_LEG,
    F_LOTS,
    F_PRICE,
    F_REASON,
    F_SIDE,
    FILL_REASONS,
    R_BAR,
    R_LEG,
    R_LOTS,
    R_REASON,
    R_SIDE,
    REASON_ENTRY,
    REJECT_REASONS,
)
from velocitas.engine.exact_ledger import exact_ledger
from velocitas.engine.records import LegLabel, fill_instants
from velocitas.engine.result import Breakdown, PnlSummary

__all__ = [
    "PRICE_DECIMALS",
    "Ledger",
    "LegLabel",
    "build_ledger",
    "decimal_ledger",
    "price_decimal",
]

PRICE_DECIMALS = 8
# 60 significant digits hold any product of an 8-decimal price, a lot-grid quantity and a fee
# rate exactly, so no Decimal operation below ever rounds.
_EXACT = Context(prec=60)


@dataclass(frozen=True, slots=True)
class Ledger:
    fills: Sequence[Fill]
    trades: Sequence[Trade]
    rejections: Sequence[Rejection]
    final_equity: Decimal
    breakdown: Breakdown


def price_decimal(price: float) -> Decimal:
    """The float price as a Decimal on the price grid (round half to even)."""
    return Decimal(f"{price:.{PRICE_DECIMALS}f}")


def build_ledger(
    fill_records: np.ndarray,
    rejection_records: np.ndarray,
    opened_at: np.ndarray,
    legs: Sequence[LegLabel],
    *,
    initial_cash: Decimal,
    lot_size: Decimal,
    fee_rate: Decimal,
    fee_fixed: Decimal,
) -> Ledger:
    """The run's exact ledger: `decimal_ledger`'s Decimals, computed in scaled integers when
    every amount fits the integers (fills, trades and rejections are then built on first use)."""
    fast = exact_ledger(
        fill_records, opened_at, legs,
        initial_cash=initial_cash, lot_size=lot_size, fee_rate=fee_rate, fee_fixed=fee_fixed,
    )  # fmt: skip
    if fast is None:
        return decimal_ledger(
            fill_records, rejection_records, opened_at, legs,
            initial_cash=initial_cash, lot_size=lot_size, fee_rate=fee_rate, fee_fixed=fee_fixed,
        )  # fmt: skip
    rejections = fast.rejections(rejection_records)
    if rejections is None:
        return decimal_ledger(
            fill_records, rejection_records, opened_at, legs,
            initial_cash=initial_cash, lot_size=lot_size, fee_rate=fee_rate, fee_fixed=fee_fixed,
        )  # fmt: skip
    return Ledger(fast.fills, fast.trades, rejections, fast.final_equity, fast.breakdown)


def decimal_ledger(
    fill_records: np.ndarray,
    rejection_records: np.ndarray,
    opened_at: np.ndarray,
    legs: Sequence[LegLabel],
    *,
    initial_cash: Decimal,
    lot_size: Decimal,
    fee_rate: Decimal,
    fee_fixed: Decimal,
) -> Ledger:
    """Replay the kernel's fill records in Decimal and pair entries with exits into trades."""
    fills: list[Fill] = []
    trades: list[Trade] = []
    open_entries: dict[int, Fill] = {}
    fill_times = fill_instants(opened_at, fill_records[:, F_BAR])
    with localcontext(_EXACT):
        cash = initial_cash
        for row, filled_at in zip(fill_records.tolist(), fill_times, strict=True):
            leg = int(row[F_LEG])
            bar = int(row[F_BAR])
            quantity = lot_size * int(row[F_LOTS])
            price = price_decimal(row[F_PRICE])
            notional = quantity * price
            fee = notional * fee_rate + fee_fixed
            buy = row[F_SIDE] > 0
            cash += -notional - fee if buy else notional - fee
            fill = Fill(
                leg=leg,
                symbol=legs[leg].symbol,
                bar_index=bar,
                filled_at=filled_at,
                side=OrderSide.BUY if buy else OrderSide.SELL,
                quantity=quantity,
                price=price,
                fee=fee,
                reason=FILL_REASONS[int(row[F_REASON])],
            )
            fills.append(fill)
            if int(row[F_REASON]) == REASON_ENTRY:
                open_entries[leg] = fill
            else:
                trades.append(_round_trip(open_entries.pop(leg), fill, legs[leg].strategy))
        if open_entries:
            raise RuntimeError(f"engine bug: legs {sorted(open_entries)} still open at the end")
        breakdown = _breakdown(trades, legs)
    rejections = _rejections(rejection_records, opened_at, legs, lot_size)
    return Ledger(fills, trades, rejections, cash, breakdown)


def _rejections(
    rejection_records: np.ndarray,
    opened_at: np.ndarray,
    legs: Sequence[LegLabel],
    lot_size: Decimal,
) -> list[Rejection]:
    rejection_times = fill_instants(opened_at, rejection_records[:, R_BAR])
    return [
        Rejection(
            leg=int(row[R_LEG]),
            symbol=legs[int(row[R_LEG])].symbol,
            bar_index=int(row[R_BAR]),
            rejected_at=rejected_at,
            side=OrderSide.BUY if row[R_SIDE] > 0 else OrderSide.SELL,
            quantity=lot_size * int(row[R_LOTS]),
            reason=REJECT_REASONS[int(row[R_REASON])],
        )
        for row, rejected_at in zip(rejection_records.tolist(), rejection_times, strict=True)
    ]


def _round_trip(entry: Fill, exit_: Fill, strategy: str) -> Trade:
    direction = 1 if entry.side is OrderSide.BUY else -1
    gross = direction * entry.quantity * (exit_.price - entry.price)
    fees = entry.fee + exit_.fee
    return Trade(
        leg=entry.leg,
        symbol=entry.symbol,
        strategy=strategy,
        side=PositionSide.LONG if direction > 0 else PositionSide.SHORT,
        quantity=entry.quantity,
        entry_bar=entry.bar_index,
        entry_at=entry.filled_at,
        entry_price=entry.price,
        exit_bar=exit_.bar_index,
        exit_at=exit_.filled_at,
        exit_price=exit_.price,
        gross_pnl=gross,
        fees=fees,
        net_pnl=gross - fees,
        exit_reason=exit_.reason,
    )


def _breakdown(trades: Sequence[Trade], legs: Sequence[LegLabel]) -> Breakdown:
    """Totals per leg, symbol and strategy; every leg appears, traded or not."""
    by_leg = {index: PnlSummary() for index in range(len(legs))}
    by_symbol = {leg.symbol: PnlSummary() for leg in legs}
    by_strategy = {leg.strategy: PnlSummary() for leg in legs}
    overall = PnlSummary()
    for trade in trades:
        by_leg[trade.leg].add(trade)
        by_symbol[trade.symbol].add(trade)
        by_strategy[trade.strategy].add(trade)
        overall.add(trade)
    return Breakdown(by_leg, by_symbol, by_strategy, overall)

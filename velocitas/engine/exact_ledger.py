"""The exact ledger at kernel speed: the Decimal ledger's figures from scaled integers.

The Decimal ledger (`velocitas.engine.ledger.decimal_ledger`) computes, per fill,

    price    = the kernel's float price rounded to 8 decimals (half to even)
    quantity = lot_size × lots
    fee      = quantity × price × rate + fixed
    cash    += ∓ quantity × price − fee

and per trade gross = ±quantity × (exit − entry), fees = entry fee + exit fee, net = gross − fees,
all exact. Exact Decimal arithmetic never rounds, so each result's exponent follows from its
operands' alone (a product adds them, a sum takes the smaller): a column's exponent is the same
for every fill of a run and is known from the spec before the run. `Exponents` works them out;
`velocitas.engine.fixed_point.fill_units` does the integer arithmetic in numba; the result is
the same Decimals, digit for digit and exponent for exponent, with the same result hash.

When an amount would leave the integers' range (`velocitas.engine.fixed_point`) or a price is
too large to round provably like `f"{price:.8f}"`, `exact_ledger` returns None and the caller
runs the Decimal ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

import numpy as np

from velocitas.engine.fixed_point import (
    L_FEES_HI,
    L_FEES_LO,
    L_GROSS_HI,
    L_GROSS_LO,
    L_NET_HI,
    L_NET_LO,
    L_TRADES,
    STATUS_EXIT_WITHOUT_ENTRY,
    STATUS_OK,
    STATUS_OPEN_AT_END,
    WIDE_BASE,
    fill_units,
)
from velocitas.engine.records import (
    FillRecords,
    LegLabel,
    RejectionRecords,
    TradeRecords,
    decimal_of,
    wide_int,
)
from velocitas.engine.result import Breakdown, PnlSummary

__all__ = ["Exponents", "FastLedger", "exact_ledger"]

_FACTOR_LIMIT = 10**18  # `fill_units` multiplies by factors below it
_SCALE_DIGITS = 17
_WIDE_HI_LIMIT = 10**18  # well inside `fill_units`' checked range for a sum's hi part
_PRICE_EXPONENT = -8  # PRICE_DECIMALS


@dataclass(frozen=True, slots=True)
class Exponents:
    """Each ledger column's Decimal exponent, and the powers of ten that align a sum's terms."""

    quantity: int
    fee: int
    cash: int
    gross: int
    net: int
    scales: np.ndarray  # the order `fill_units` reads
    fixed_shift: int  # the fixed fee's exponent above the fees'
    cash_shift: int  # the initial cash's exponent above the cash's

    @classmethod
    def of(
        cls, lot_size: Decimal, fee_rate: Decimal, fee_fixed: Decimal, initial_cash: Decimal
    ) -> Exponents | None:
        """None when a scale is not below 10**18 (a run the Decimal ledger then replays)."""
        quantity = _exponent(lot_size)
        notional = quantity + _PRICE_EXPONENT
        rate_term = notional + _exponent(fee_rate)
        fee = min(rate_term, _exponent(fee_fixed))
        cash = min(_exponent(initial_cash), notional, fee)
        gross = notional
        net = min(gross, fee)
        shifts = [rate_term - fee, notional - cash, fee - cash, gross - net, fee - net]
        if max(shifts) > _SCALE_DIGITS:
            return None
        scales = np.asarray([10**shift for shift in shifts], dtype=np.int64)
        fixed_shift = _exponent(fee_fixed) - fee
        cash_shift = _exponent(initial_cash) - cash
        return cls(quantity, fee, cash, gross, net, scales, fixed_shift, cash_shift)


@dataclass(frozen=True, slots=True)
class FastLedger:
    """The fields of `velocitas.engine.ledger.Ledger` but the rejections."""

    fills: FillRecords
    trades: TradeRecords
    final_equity: Decimal
    breakdown: Breakdown
    lot: int  # the lot size's coefficient

    def rejections(self, records: np.ndarray) -> RejectionRecords | None:
        """The run's rejections on the same footing, or None when a quantity does not fit."""
        fills = self.fills
        return RejectionRecords.of(
            records, self.lot, fills.quantity_exponent, fills.legs, fills.opened_at
        )


def exact_ledger(
    fill_records: np.ndarray,
    opened_at: np.ndarray,
    legs: Sequence[LegLabel],
    *,
    initial_cash: Decimal,
    lot_size: Decimal,
    fee_rate: Decimal,
    fee_fixed: Decimal,
) -> FastLedger | None:
    """The run's ledger in scaled integers, or None when it does not fit them."""
    exponents = Exponents.of(lot_size, fee_rate, fee_fixed, initial_cash)
    lot, rate = _coefficient(lot_size), _coefficient(fee_rate)
    if exponents is None or max(abs(lot), abs(rate)) >= _FACTOR_LIMIT:
        return None
    fixed = _wide(_coefficient(fee_fixed) * 10**exponents.fixed_shift)
    cash0 = _wide(_coefficient(initial_cash) * 10**exponents.cash_shift)
    if fixed is None or cash0 is None:
        return None
    status, units, entry_rows, exit_rows, trade_units, negative_zero, cash, totals = fill_units(
        fill_records, len(legs), lot, rate, fixed, cash0, exponents.scales
    )
    if status == STATUS_OPEN_AT_END:
        raise RuntimeError("engine bug: a leg is still open at the end")
    if status == STATUS_EXIT_WITHOUT_ENTRY:
        raise RuntimeError("engine bug: an exit fill without its entry")
    if status != STATUS_OK:
        return None
    fills = FillRecords(fill_records, units, exponents.quantity, exponents.fee, legs, opened_at)
    trades = TradeRecords(
        fills, entry_rows, exit_rows, trade_units, negative_zero, exponents.gross, exponents.net
    )
    # No fill leaves the initial cash as given (its own exponent): the Decimal loop never ran.
    final_equity = (
        decimal_of(wide_int(*cash.tolist()), exponents.cash) if len(fill_records) else initial_cash
    )
    return FastLedger(fills, trades, final_equity, _breakdown(totals, legs, exponents), lot)


def _wide(value: int) -> np.ndarray | None:
    """A Python int as a wide number (hi, lo), or None when hi would pass the kernel's range."""
    hi, lo = divmod(value, WIDE_BASE)
    if abs(hi) >= _WIDE_HI_LIMIT:
        return None
    return np.asarray([hi, lo], dtype=np.int64)


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "spec amounts are finite"
    return exponent


def _coefficient(value: Decimal) -> int:
    sign, digits, _ = value.as_tuple()
    magnitude = int("".join(map(str, digits)))
    return -magnitude if sign else magnitude


def _breakdown(totals: np.ndarray, legs: Sequence[LegLabel], exponents: Exponents) -> Breakdown:
    """Per leg, symbol and strategy, summed like the Decimal ledger's `PnlSummary.add` (from
    Decimal(0), all exact), from the per-leg integer totals."""
    by_leg = {index: PnlSummary() for index in range(len(legs))}
    by_symbol = {leg.symbol: PnlSummary() for leg in legs}
    by_strategy = {leg.strategy: PnlSummary() for leg in legs}
    overall = PnlSummary()
    with localcontext() as context:
        context.prec = 60
        for index, row in enumerate(totals.tolist()):
            if row[L_TRADES] == 0:
                continue
            leg_total = PnlSummary(
                row[L_TRADES],
                decimal_of(wide_int(row[L_GROSS_HI], row[L_GROSS_LO]), exponents.gross),
                decimal_of(wide_int(row[L_FEES_HI], row[L_FEES_LO]), exponents.fee),
                decimal_of(wide_int(row[L_NET_HI], row[L_NET_LO]), exponents.net),
            )
            for summary in (
                by_leg[index],
                by_symbol[legs[index].symbol],
                by_strategy[legs[index].strategy],
                overall,
            ):
                summary.trades += leg_total.trades
                summary.gross_pnl += leg_total.gross_pnl
                summary.fees += leg_total.fees
                summary.net_pnl += leg_total.net_pnl
    return Breakdown(by_leg, by_symbol, by_strategy, overall)

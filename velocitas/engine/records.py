"""Fills and trades of the exact ledger as sequences built on first use.

The scaled-integer ledger (`velocitas.engine.exact_ledger`) holds a run's money as int64
coefficients at exponents fixed per column. `FillRecords` and `TradeRecords` are read-only
sequences of the domain's `Fill` and `Trade` over those columns: a caller that reads them gets
exactly the objects the Decimal ledger would have built (built all at once, on first access),
and one that only needs the metrics or the hash (`run_backtest` itself) never builds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, getcontext
from typing import TypeVar, overload

import numpy as np
import numpy.typing as npt

from velocitas.domain.fills import Fill
from velocitas.domain.orders import OrderSide
from velocitas.domain.positions import PositionSide
from velocitas.domain.rejections import Rejection
from velocitas.domain.trades import Trade
from velocitas.engine.codes import (
    F_BAR,
    F_LEG,
    F_REASON,
    F_SIDE,
    FILL_REASONS,
    R_BAR,
    R_LEG,
    R_LOTS,
    R_REASON,
    R_SIDE,
    REJECT_REASONS,
)
from velocitas.engine.exact_floats import quotients
from velocitas.engine.fixed_point import (
    T_FEES_HI,
    T_FEES_LO,
    T_GROSS_HI,
    T_GROSS_LO,
    T_NET_HI,
    T_NET_LO,
    U_FEE_HI,
    U_FEE_LO,
    U_PRICE,
    U_QUANTITY,
    WIDE_BASE,
)
from velocitas.engine.record_text import fill_lines, rejection_lines

__all__ = [
    "FillRecords",
    "LegLabel",
    "RejectionRecords",
    "TradeRecords",
    "decimal_of",
    "fill_instants",
    "wide_int",
]

_EXACT = Context(prec=60)
_POWERS_EXACT = 22  # 10**22 is the largest power of ten exact in float64
_FLOAT_WINDOW = 2.0**-90  # well above the double-double's error (about 2**-100)
_INT64_SAFE = 9.0e18  # a float sum of int64 values below it did not wrap
_HALF_BASE = 10**9
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LegLabel:
    """What the ledger needs to know about a leg to label its fills and trades."""

    symbol: str
    strategy: str


def decimal_of(coefficient: int, exponent: int, *, negative_zero: bool = False) -> Decimal:
    """coefficient × 10**exponent as a Decimal with exactly that exponent (−0 if asked)."""
    if negative_zero:
        return Decimal((1, (0,), exponent))
    return Decimal(coefficient).scaleb(exponent, _EXACT)


def wide_int(hi: int, lo: int) -> int:
    """The Python int of a wide number (`velocitas.engine.fixed_point`)."""
    return hi * WIDE_BASE + lo


def _wide_total(hi: np.ndarray, lo: np.ndarray) -> int:
    """Σ of wide numbers, exactly (int64 partial sums only where they cannot wrap)."""
    if float(np.abs(hi).sum(dtype=np.float64)) >= _INT64_SAFE or len(lo) >= 2**33:
        return sum(wide_int(h, low) for h, low in zip(hi.tolist(), lo.tolist(), strict=True))
    upper, lower = np.divmod(lo, _HALF_BASE)  # each half below 10**9: sums fit int64
    return int(hi.sum()) * WIDE_BASE + int(upper.sum()) * _HALF_BASE + int(lower.sum())


def fill_instants(opened_at: np.ndarray, bar_column: np.ndarray) -> list[datetime]:
    """UTC datetimes of the given bars, converted in one numpy pass."""
    micros = opened_at[bar_column.astype(np.int64)] // 1000
    naive = micros.astype("datetime64[us]").astype(datetime).tolist()
    return [moment.replace(tzinfo=UTC) for moment in naive]


def _packed(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 texts back to back, and where each starts (one more start: the end)."""
    encoded = [text.encode() for text in texts]
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(e) for e in encoded])
    return np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8), starts


class _Lazy(Sequence[T]):
    """A read-only sequence whose items are built, all together, the first time one is read."""

    _items: list[T] | None = None

    def _build(self) -> list[T]:
        raise NotImplementedError

    def _all(self) -> list[T]:
        if self._items is None:
            self._items = self._build()
        return self._items

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self._all()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return self._all() == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking like the list it stands for

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} items)"


class FillRecords(_Lazy[Fill]):
    """The run's fills: kernel records plus their `U_*` coefficients (price, quantity, fee)."""

    def __init__(
        self,
        records: np.ndarray,
        units: npt.NDArray[np.int64],
        quantity_exponent: int,
        fee_exponent: int,
        legs: Sequence[LegLabel],
        opened_at: np.ndarray,
    ) -> None:
        self.records = records
        self.units = units
        self.quantity_exponent = quantity_exponent
        self.fee_exponent = fee_exponent
        self.legs = list(legs)
        self.opened_at = opened_at

    def __len__(self) -> int:
        return len(self.records)

    def hash_lines(self) -> npt.NDArray[np.uint8]:
        """The fills' lines of `BacktestResult.canonical_hash`, byte for byte."""
        symbols, symbol_starts = _packed([leg.symbol for leg in self.legs])
        reasons, reason_starts = _packed(list(FILL_REASONS))
        lines = fill_lines(
            self.records, self.units, self.quantity_exponent, self.fee_exponent,
            symbols, symbol_starts, reasons, reason_starts,
        )  # fmt: skip
        return lines  # hashlib reads the buffer: no copy to bytes

    def fees_paid(self) -> Decimal:
        """`sum(fill.fee for fill in fills, start=Decimal(0))` in the caller's context. Fees are
        never negative, so no partial sum is longer than the total: when the total fits the
        context's precision, one exact sum is what the running sum gives."""
        if len(self) == 0:
            return Decimal(0)
        total = _wide_total(self.units[:, U_FEE_HI], self.units[:, U_FEE_LO])
        if len(str(total)) + max(self.fee_exponent, 0) > getcontext().prec:
            return sum((fill.fee for fill in self), start=Decimal(0))
        return Decimal(0) + decimal_of(total, self.fee_exponent)

    def _build(self) -> list[Fill]:
        records = self.records
        instants = fill_instants(self.opened_at, records[:, F_BAR])
        legs = self.legs
        out = []
        for row, (price, quantity, fee_hi, fee_lo), filled_at in zip(
            records.tolist(), self.units.tolist(), instants, strict=True
        ):
            leg = int(row[F_LEG])
            out.append(
                Fill(
                    leg=leg,
                    symbol=legs[leg].symbol,
                    bar_index=int(row[F_BAR]),
                    filled_at=filled_at,
                    side=OrderSide.BUY if row[F_SIDE] > 0 else OrderSide.SELL,
                    quantity=decimal_of(quantity, self.quantity_exponent),
                    price=decimal_of(price, -8),
                    fee=decimal_of(wide_int(fee_hi, fee_lo), self.fee_exponent),
                    reason=FILL_REASONS[int(row[F_REASON])],
                )
            )
        return out


class TradeRecords(_Lazy[Trade]):
    """The run's round trips: entry and exit fill rows, `T_*` coefficients (gross, fees, net)."""

    def __init__(
        self,
        fills: FillRecords,
        entry_rows: npt.NDArray[np.int64],
        exit_rows: npt.NDArray[np.int64],
        units: npt.NDArray[np.int64],
        negative_zero: npt.NDArray[np.bool_],
        gross_exponent: int,
        net_exponent: int,
    ) -> None:
        self.fills = fills
        self.entry_rows = entry_rows
        self.exit_rows = exit_rows
        self.units = units
        self.negative_zero = negative_zero
        self.gross_exponent = gross_exponent
        self.net_exponent = net_exponent

    def __len__(self) -> int:
        return len(self.entry_rows)

    def entry_bars(self) -> npt.NDArray[np.int64]:
        return self.fills.records[self.entry_rows, F_BAR].astype(np.int64)

    def exit_bars(self) -> npt.NDArray[np.int64]:
        return self.fills.records[self.exit_rows, F_BAR].astype(np.int64)

    def net_pnl_floats(self) -> npt.NDArray[np.float64]:
        """`float(trade.net_pnl)` of every trade: the nearest float, −0 kept."""
        exponent = self.net_exponent
        net = self.units[:, T_NET_HI : T_NET_LO + 1]
        if -_POWERS_EXACT <= exponent <= 0:
            ones = np.ones(len(net), dtype=np.int64)
            values, ambiguous = quotients(net, ones, ones, 10.0 ** (-exponent), _FLOAT_WINDOW)
        else:
            values, ambiguous = np.empty(len(net)), np.ones(len(net), dtype=np.bool_)
        for i in np.flatnonzero(ambiguous).tolist():  # Python's int / int rounds to nearest
            wide = wide_int(int(net[i, 0]), int(net[i, 1]))
            values[i] = wide * 10**exponent if exponent >= 0 else wide / 10 ** (-exponent)
        return np.where(self.negative_zero[:, 1], -0.0, values)

    def return_fractions(self) -> npt.NDArray[np.float64]:
        """`trade.return_fraction` (net P&L over the entry notional) of every trade.

        The Decimal property rounds the notional and the quotient to the context's digits
        before the float; outside `quotients`' window around float midpoints that rounding
        cannot change the nearest float, and inside it the property itself is evaluated.
        """
        entry = self.fills.units[self.entry_rows]
        net = self.units[:, T_NET_HI : T_NET_LO + 1]
        scale = 10.0 ** (self.gross_exponent - self.net_exponent)  # ≤ 10**17: exact
        window = 2.0 * 10.0 ** (1 - getcontext().prec) + _FLOAT_WINDOW
        values, ambiguous = quotients(net, entry[:, U_PRICE], entry[:, U_QUANTITY], scale, window)
        fills = self.fills
        for i in np.flatnonzero(ambiguous).tolist():  # `Trade.return_fraction`'s own arithmetic
            net_pnl = decimal_of(wide_int(int(net[i, 0]), int(net[i, 1])), self.net_exponent)
            quantity = decimal_of(int(entry[i, U_QUANTITY]), fills.quantity_exponent)
            price = decimal_of(int(entry[i, U_PRICE]), -8)
            values[i] = float(net_pnl / (quantity * price))
        return np.where(self.negative_zero[:, 1], -0.0, values)

    def _build(self) -> list[Trade]:
        fills = self.fills._all()
        legs = self.fills.legs
        out = []
        for entry_row, exit_row, wide, (gross_zero, net_zero) in zip(
            self.entry_rows.tolist(),
            self.exit_rows.tolist(),
            self.units.tolist(),
            self.negative_zero.tolist(),
            strict=True,
        ):
            entry, exit_ = fills[entry_row], fills[exit_row]
            gross = wide_int(wide[T_GROSS_HI], wide[T_GROSS_LO])
            fees = wide_int(wide[T_FEES_HI], wide[T_FEES_LO])
            net = wide_int(wide[T_NET_HI], wide[T_NET_LO])
            out.append(
                Trade(
                    leg=entry.leg,
                    symbol=entry.symbol,
                    strategy=legs[entry.leg].strategy,
                    side=PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT,
                    quantity=entry.quantity,
                    entry_bar=entry.bar_index,
                    entry_at=entry.filled_at,
                    entry_price=entry.price,
                    exit_bar=exit_.bar_index,
                    exit_at=exit_.filled_at,
                    exit_price=exit_.price,
                    gross_pnl=decimal_of(gross, self.gross_exponent, negative_zero=gross_zero),
                    fees=decimal_of(fees, self.fills.fee_exponent),
                    net_pnl=decimal_of(net, self.net_exponent, negative_zero=net_zero),
                    exit_reason=exit_.reason,
                )
            )
        return out


class RejectionRecords(_Lazy[Rejection]):
    """The run's rejections: kernel records plus the quantities' coefficients."""

    def __init__(
        self,
        records: np.ndarray,
        quantities: npt.NDArray[np.int64],
        quantity_exponent: int,
        legs: Sequence[LegLabel],
        opened_at: np.ndarray,
    ) -> None:
        self.records = records
        self.quantities = quantities
        self.quantity_exponent = quantity_exponent
        self.legs = list(legs)
        self.opened_at = opened_at

    @classmethod
    def of(
        cls,
        records: np.ndarray,
        lot: int,
        quantity_exponent: int,
        legs: Sequence[LegLabel],
        opened_at: np.ndarray,
    ) -> RejectionRecords | None:
        """None when a quantity's coefficient (lot × lots) is not below 10**18."""
        lots = records[:, R_LOTS].astype(np.int64)  # truncates, as int() does
        if len(lots) and float(np.abs(lots).max()) * abs(lot) >= 1e18:
            return None
        return cls(records, lots * lot, quantity_exponent, legs, opened_at)

    def __len__(self) -> int:
        return len(self.records)

    def hash_lines(self) -> npt.NDArray[np.uint8]:
        """The rejections' lines of `BacktestResult.canonical_hash`, byte for byte."""
        symbols, symbol_starts = _packed([leg.symbol for leg in self.legs])
        reasons, reason_starts = _packed(list(REJECT_REASONS))
        lines = rejection_lines(
            self.records, self.quantities, self.quantity_exponent,
            symbols, symbol_starts, reasons, reason_starts,
        )  # fmt: skip
        return lines  # hashlib reads the buffer: no copy to bytes

    def _build(self) -> list[Rejection]:
        instants = fill_instants(self.opened_at, self.records[:, R_BAR])
        return [
            Rejection(
                leg=int(row[R_LEG]),
                symbol=self.legs[int(row[R_LEG])].symbol,
                bar_index=int(row[R_BAR]),
                rejected_at=rejected_at,
                side=OrderSide.BUY if row[R_SIDE] > 0 else OrderSide.SELL,
                quantity=decimal_of(quantity, self.quantity_exponent),
                reason=REJECT_REASONS[int(row[R_REASON])],
            )
            for row, quantity, rejected_at in zip(
                self.records.tolist(), self.quantities.tolist(), instants, strict=True
            )
        ]

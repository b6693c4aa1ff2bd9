"""`BarArrays`: a series of OHLCV bars as columnar numpy arrays, the engine's input.

Also `ExactBar`, one bar exactly as stored (Decimal), for ledgers, reports and the history API.
Time ranges are half-open everywhere: `start` inclusive, `end` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

__all__ = ["PRICE_FIELDS", "BarArrays", "ExactBar", "to_epoch_ns"]

PRICE_FIELDS = ("open", "high", "low", "close", "volume")
"""The value columns of a bar, in storage order (volume is not a price but travels with them)."""

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch for a timezone-aware datetime (naive ones are refused)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give a timezone (UTC)")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_epoch_ns(ns: int) -> datetime:
    """The UTC instant `ns` nanoseconds after the epoch, to the microsecond below (integer
    arithmetic: a float round trip could move an instant by a microsecond)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


@dataclass(frozen=True, slots=True, eq=False)
class BarArrays:
    """OHLCV bars of one symbol and timeframe, oldest first.

    `opened_at` holds each bar's opening instant as int64 nanoseconds since the Unix epoch, UTC.
    Prices and volume are float64 for speed; the exact NUMERIC values stay in the database
    (`velocitas.db.bars` reads them as Decimal for the ledger).
    """

    symbol: str
    timeframe: str
    opened_at: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __post_init__(self) -> None:
        n = len(self.opened_at)
        for name in ("open", "high", "low", "close", "volume"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"BarArrays.{name} has {len(getattr(self, name))} values, expected {n}"
                )

    def __len__(self) -> int:
        return len(self.opened_at)

    def __repr__(self) -> str:
        span = ""
        if len(self):
            first, last = self.opened_at_datetime64[[0, -1]]
            span = f", {first}Z..{last}Z"
        return f"BarArrays({self.symbol!r}, {str(self.timeframe)!r}, {len(self)} bars{span})"

    @property
    def opened_at_datetime64(self) -> npt.NDArray[np.datetime64]:
        """`opened_at` as `datetime64[ns]` (UTC; a view, no copy)."""
        return self.opened_at.view("datetime64[ns]")

    def between(self, start: datetime | None = None, end: datetime | None = None) -> BarArrays:
        """Bars with `start <= opened_at < end` (either bound may be omitted); views."""
        lo = 0 if start is None else int(np.searchsorted(self.opened_at, to_epoch_ns(start)))
        hi = len(self) if end is None else int(np.searchsorted(self.opened_at, to_epoch_ns(end)))
        return self.slice(lo, max(lo, hi))

    def equals(self, other: BarArrays) -> bool:
        """Same symbol, timeframe and bit-identical columns (NaN equal to NaN)."""
        return (
            self.symbol == other.symbol
            and str(self.timeframe) == str(other.timeframe)
            and np.array_equal(self.opened_at, other.opened_at)
            and all(
                np.array_equal(getattr(self, name), getattr(other, name), equal_nan=True)
                for name in PRICE_FIELDS
            )
        )

    def slice(self, start: int, stop: int) -> BarArrays:
        """Bars [start, stop) by position (views, no copy)."""
        return BarArrays(
            self.symbol,
            self.timeframe,
            self.opened_at[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )

    @classmethod
    def empty(cls, symbol: str, timeframe: str) -> BarArrays:
        f = np.empty(0, dtype=np.float64)
        return cls(symbol, timeframe, np.empty(0, dtype=np.int64), f, f, f, f, f)


@dataclass(frozen=True, slots=True)
class ExactBar:
    """One bar exactly as stored: Decimal prices and volume, a UTC `opened_at`."""

    opened_at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

"""Bar timeframes: the UTC grid on which bars of each length open.

Intraday and daily bars (`1m` … `1d`) open on the grid of their length from the Unix epoch
(a `4h` bar at 00:00, 04:00, … Z). Weekly bars (`1w`) open on Mondays 00:00 UTC, monthly bars
(`1mo`) on the 1st of the month 00:00 UTC. A month has no fixed length, so code that walks
the grid asks the timeframe (`floor`, `add`, `is_aligned`, `bars_in`, and their `_ns` forms on
int64 nanoseconds since the epoch) instead of doing arithmetic with a bar length;
`nominal_seconds` is for rough sizing only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from velocitas.domain.bars import from_epoch_ns, to_epoch_ns

_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
    "1w": 604800,
}
_NS_PER_SECOND = 1_000_000_000
# 1970-01-01 was a Thursday: weeks are counted from the Monday after it.
_MONDAY_NS = 4 * 86_400 * _NS_PER_SECOND
_MONTH_SECONDS = 365.25 * 86_400 / 12

I64 = npt.NDArray[np.int64]


class Timeframe(StrEnum):
    """A bar's length and the grid its bars open on (see the module docstring)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"
    MO1 = "1mo"

    @property
    def fixed(self) -> bool:
        """Whether every bar has the same length in seconds (all but `1mo`)."""
        return self.value in _SECONDS

    @property
    def seconds(self) -> int:
        """The bar length in seconds; `ValueError` for `1mo`, whose months differ (walk the
        grid with `floor`/`add`, size with `nominal_seconds`)."""
        try:
            return _SECONDS[self.value]
        except KeyError:
            raise ValueError(f"{self.value} bars have no fixed length in seconds") from None

    @property
    def nominal_seconds(self) -> float:
        """The average bar length in seconds (a month is 365.25 / 12 days): for sizing."""
        return float(_SECONDS.get(self.value, _MONTH_SECONDS))

    @property
    def per_year(self) -> float | None:
        """Bars per year when the calendar does not change it (52.18 weeks, 12 months);
        None for `1m` … `1d`, whose count per year depends on the trading calendar."""
        if self is Timeframe.W1:
            return 365.25 / 7
        if self is Timeframe.MO1:
            return 12.0
        return None

    @property
    def grid_rule(self) -> str:
        """Where bars of this timeframe open, in words."""
        if self is Timeframe.W1:
            return "weekly bars open on Mondays 00:00Z"
        if self is Timeframe.MO1:
            return "monthly bars open on the 1st of the month 00:00Z"
        return f"bars open at multiples of {self.seconds}s from 1970-01-01T00:00Z"

    def floor_ns(self, ns: I64) -> I64:
        """The opening of the bar each instant falls in (int64 ns since the epoch)."""
        ns = np.asarray(ns, dtype=np.int64)
        if self is Timeframe.MO1:
            return _month_ns(_month_index(ns))
        step = np.int64(self.seconds * _NS_PER_SECOND)
        origin = np.int64(self._origin_ns)
        # Floor division floors towards -inf, so pre-1970 instants land on the grid too.
        return ((ns - origin) // step) * step + origin

    def add_ns(self, ns: I64, n: int = 1) -> I64:
        """Each bar opening moved `n` bars later (earlier when negative)."""
        ns = np.asarray(ns, dtype=np.int64)
        if self is Timeframe.MO1:
            return _month_ns(_month_index(ns) + n) + (ns - self.floor_ns(ns))
        return ns + np.int64(n * self.seconds * _NS_PER_SECOND)

    def is_aligned_ns(self, ns: I64) -> npt.NDArray[np.bool_]:
        """Whether each instant is a bar opening of this timeframe."""
        ns = np.asarray(ns, dtype=np.int64)
        return np.asarray(self.floor_ns(ns) == ns)

    def steps_ns(self, earlier: I64, later: I64) -> I64:
        """How many bars from each opening in `earlier` to the one in `later` (on the grid)."""
        earlier = np.asarray(earlier, dtype=np.int64)
        later = np.asarray(later, dtype=np.int64)
        if self is Timeframe.MO1:
            return _month_index(later) - _month_index(earlier)
        return (later - earlier) // np.int64(self.seconds * _NS_PER_SECOND)

    def floor(self, moment: datetime) -> datetime:
        """The opening of the bar `moment` falls in (UTC)."""
        return from_epoch_ns(int(self.floor_ns(np.array([to_epoch_ns(moment)]))[0]))

    def ceil(self, moment: datetime) -> datetime:
        """The first bar opening at or after `moment` (UTC)."""
        floor = self.floor(moment)
        return floor if floor == moment else self.add(floor, 1)

    def add(self, moment: datetime, n: int = 1) -> datetime:
        """`moment` moved `n` bars later (a bar opening stays one)."""
        return from_epoch_ns(int(self.add_ns(np.array([to_epoch_ns(moment)]), n)[0]))

    def is_aligned(self, moment: datetime) -> bool:
        """Whether `moment` is a bar opening of this timeframe."""
        return self.floor(moment) == moment

    def bars_in(self, start: datetime, end: datetime) -> int:
        """How many bars open in `[start, end)`."""
        if end <= start:
            return 0
        first, last = self.ceil(start), self.floor(end - timedelta(microseconds=1))
        if last < first:
            return 0
        return (
            int(self.steps_ns(np.array([to_epoch_ns(first)]), np.array([to_epoch_ns(last)]))[0]) + 1
        )

    @property
    def _origin_ns(self) -> int:
        return _MONDAY_NS if self is Timeframe.W1 else 0

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """`Timeframe("1h")`, any case (`1H`, `1MO`), with an error message that lists the
        valid choices. `1M` is refused: it reads as one minute or one month."""
        cleaned = text.strip()
        if cleaned[-1:] == "M" and cleaned[:-1].isdigit():
            n = cleaned[:-1]
            minutes, months = (
                ("one minute", "one month") if n == "1" else (f"{n} minutes", f"{n} months")
            )
            raise ValueError(
                f"{cleaned} is ambiguous: write {n}m for {minutes} or {n}mo for {months}"
            )
        try:
            return cls(cleaned.lower())
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown timeframe {text!r}; choose one of {choices}") from None


def _month_index(ns: I64) -> I64:
    # numpy's datetime casts floor, so any instant of a month maps to that month.
    return ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)


def _month_ns(months: I64) -> I64:
    return (
        np.asarray(months, dtype=np.int64)
        .astype("datetime64[M]")
        .astype("datetime64[ns]")
        .astype(np.int64)
    )

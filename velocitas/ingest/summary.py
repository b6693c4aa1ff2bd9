"""What an import did: counts, the time span, and the holes in it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.calendars import missing_opens, resolve_calendar
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import RowProblem
from velocitas.ingest.times import format_micros

MAX_GAPS_LISTED = 5


@dataclass(frozen=True, slots=True)
class GapRange:
    """Missing bars from `first_missing` to `last_missing` (inclusive, ISO-8601 UTC)."""

    first_missing: str
    last_missing: str
    missing: int


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """The outcome of one import.

    `read` rows came in; `rejected` were refused (only with skip_invalid, listed in
    `problems`, first rows only); the accepted rest were `inserted`, `updated` (values
    differed from those stored) or `unchanged`. `missing_bars` counts grid slots without a
    bar between `first_opened_at` and `last_opened_at` among the accepted rows; `gaps` lists
    the first few of the `gap_count` runs of missing slots.
    """

    source: str
    symbol: str
    timeframe: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    first_opened_at: str | None
    last_opened_at: str | None
    missing_bars: int
    gap_count: int
    gaps: list[GapRange] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Span:
    first_opened_at: str | None
    last_opened_at: str | None
    missing_bars: int
    gap_count: int
    gaps: list[GapRange]


def span_of(
    micros: npt.NDArray[np.int64],
    timeframe: Timeframe,
    *,
    calendar_aware: bool = False,
    calendar: str | None = None,
) -> Span:
    """First and last time and the gaps of a set of on-grid times (any order, unique).

    `calendar_aware` (or a `calendar` named): gaps are the bars the market calendar expects
    that are missing (the calendar named, else inferred from the times' spacing), so stock or
    FX data shows no weekend or holiday gaps. Otherwise, and always for weekly and monthly
    bars (whose grid no calendar thins), every empty grid slot is missing.
    """
    if micros.size == 0:
        return Span(None, None, 0, 0, [])
    if (calendar_aware or calendar is not None) and timeframe.per_year is None:
        return _calendar_span(np.sort(micros), timeframe.value, calendar)
    times = np.sort(micros)
    missing = timeframe.steps_ns(times[:-1] * 1000, times[1:] * 1000) - 1
    at = np.flatnonzero(missing > 0)
    gaps = [
        GapRange(
            first_missing=format_micros(int(timeframe.add_ns(times[i] * 1000, 1)) // 1000),
            last_missing=format_micros(int(timeframe.add_ns(times[i + 1] * 1000, -1)) // 1000),
            missing=int(missing[i]),
        )
        for i in at[:MAX_GAPS_LISTED]
    ]
    return Span(
        first_opened_at=format_micros(int(times[0])),
        last_opened_at=format_micros(int(times[-1])),
        missing_bars=int(missing[at].sum()),
        gap_count=int(at.size),
        gaps=gaps,
    )


def _calendar_span(times: npt.NDArray[np.int64], timeframe: str, name: str | None) -> Span:
    ns = times * 1000
    missing = missing_opens(ns, timeframe, resolve_calendar(name, ns, timeframe)) // 1000
    # A run of missing bars: consecutive among the expected ones, i.e. no stored bar between.
    breaks = np.flatnonzero(np.diff(np.searchsorted(times, missing)) != 0) + 1
    runs = np.split(missing, breaks) if missing.size else []
    gaps = [
        GapRange(
            first_missing=format_micros(int(run[0])),
            last_missing=format_micros(int(run[-1])),
            missing=int(run.size),
        )
        for run in runs[:MAX_GAPS_LISTED]
    ]
    return Span(
        first_opened_at=format_micros(int(times[0])),
        last_opened_at=format_micros(int(times[-1])),
        missing_bars=int(missing.size),
        gap_count=len(runs),
        gaps=gaps,
    )

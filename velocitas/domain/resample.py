"""Resampling bars to a coarser timeframe, vectorised.

A target bar covers one interval of the target grid in UTC (a `1d` bar opens at 00:00Z, a `4h`
bar at 00:00, 04:00, … Z, a `1w` bar on Monday 00:00Z, a `1mo` bar on the 1st 00:00Z; see
`velocitas.domain.timeframe`). Its open is the first source bar's open,
high the maximum high, low the minimum low, close the last close and volume the sum. Intervals
without any source bar produce no target bar (gaps stay gaps; nothing is filled). A trailing
interval that is only partly covered yields a bar built from the bars present.
"""

from __future__ import annotations

import numpy as np

from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

__all__ = ["can_resample", "resample"]


def can_resample(source: Timeframe, target: Timeframe) -> bool:
    """Whether whole `source` bars tile a `target` bar (same length counts). Weeks and months
    are made of days, so any timeframe that divides a day tiles them."""
    if source == target:
        return True
    if not source.fixed:
        return False
    if not target.fixed or target is Timeframe.W1:
        return Timeframe.D1.seconds % source.seconds == 0
    return target.seconds >= source.seconds and target.seconds % source.seconds == 0


def resample(bars: BarArrays, to: Timeframe | str) -> BarArrays:
    """`bars` aggregated to the timeframe `to` (see the module docstring for the rules).

    Raises `InvalidRequest` (field `timeframe`) when `to` is finer than the bars or not a whole
    multiple of them. Same timeframe: the input is returned as it is.
    """
    source = Timeframe.parse(str(bars.timeframe))
    target = Timeframe.parse(str(to))
    if target == source:
        return bars
    if not can_resample(source, target):
        raise InvalidRequest(
            f"cannot resample {source.value} bars to {target.value}: the target must be a "
            f"whole multiple of {source.value}",
            field="timeframe",
        )
    if len(bars) == 0:
        return BarArrays.empty(bars.symbol, target)
    bucket = target.floor_ns(bars.opened_at)
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    lasts = np.concatenate((starts[1:] - 1, [len(bars) - 1]))
    return BarArrays(
        bars.symbol,
        target,
        bucket[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[lasts],
        np.add.reduceat(bars.volume, starts),
    )

"""Stop levels and the walk along a bar's assumed intrabar path (numba).

A bar only tells us O, H, L and C, so we assume the price went O → first extreme → second
extreme → C in straight lines, and fire the first level the walk touches:

- `pessimistic`: the adverse extreme first (O-L-H-C for a long, O-H-L-C for a short), so when a
  stop and a take-profit could both have hit, the stop did;
- `ohlc`: always O-H-L-C;
- `adaptive`: O-H-L-C when the open is nearer the high, else O-L-H-C;
- `bridge`: not corners but the bar's seeded ticks (`velocitas.engine.ticks.walk_bridge`).

A level the open is already beyond fills at the open (the market gapped through it). The
trailing stop follows the best price reached so far along the walk.
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import (
    PATH_ADAPTIVE,
    PATH_OHLC,
    PATH_PESSIMISTIC,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TRAILING_STOP,
    STOP_ATR,
    STOP_PERCENT,
)
from velocitas.jit import njit


@njit(cache=True)
def adverse_level(reference: float, side: int, kind: int, value: float, atr: float) -> float:
    """A level `value` (fraction or ATRs) against a `side` position from `reference`, or NaN."""
    if kind == STOP_PERCENT:
        return reference * (1.0 - side * value)
    if kind == STOP_ATR:
        return reference - side * value * atr
    return np.nan


@njit(cache=True)
def favourable_level(reference: float, side: int, kind: int, value: float, atr: float) -> float:
    """A level `value` (fraction or ATRs) in favour of a `side` position; NaN if none."""
    if kind == STOP_PERCENT:
        return reference * (1.0 + side * value)
    if kind == STOP_ATR:
        return reference + side * value * atr
    return np.nan


@njit(cache=True)
def _protective(side: int, stop_loss: float, trailing: float) -> tuple[float, int]:
    """The tighter of stop loss and trailing stop, and which one it is (stop loss wins ties)."""
    if np.isnan(trailing):
        return stop_loss, REASON_STOP_LOSS
    if np.isnan(stop_loss):
        return trailing, REASON_TRAILING_STOP
    if side * trailing > side * stop_loss:
        return trailing, REASON_TRAILING_STOP
    return stop_loss, REASON_STOP_LOSS


@njit(cache=True)
def high_first(side: int, o: float, h: float, low: float, path: int) -> bool:
    """Whether the assumed path visits the high before the low."""
    if path == PATH_OHLC:
        return True
    if path == PATH_PESSIMISTIC:
        return side < 0
    if path == PATH_ADAPTIVE:
        return (h - o) < (o - low)
    return True


@njit(cache=True)
def walk_bar(
    side: int,
    o: float,
    h: float,
    low: float,
    c: float,
    stop_loss: float,
    take_profit: float,
    trail_kind: int,
    trail_value: float,
    trail_atr: float,
    extreme: float,
    path: int,
) -> tuple[int, float, float]:
    """Walk one bar for an open `side` position.

    Returns (reason, price, extreme): reason 0 when nothing fired, else the exit reason with the
    level's price (or the open when gapped); `extreme` is the best price reached, updated.
    """
    trailing = adverse_level(extreme, side, trail_kind, trail_value, trail_atr)
    stop, reason = _protective(side, stop_loss, trailing)
    if side * o <= side * stop:
        return reason, o, extreme
    if side * o >= side * take_profit:
        return REASON_TAKE_PROFIT, o, extreme
    if side * o > side * extreme:
        extreme = o
    if high_first(side, o, h, low, path):
        first, second = h, low
    else:
        first, second = low, h
    previous = o
    for step in range(3):
        point = first if step == 0 else (second if step == 1 else c)
        if side * point < side * previous:
            trailing = adverse_level(extreme, side, trail_kind, trail_value, trail_atr)
            stop, reason = _protective(side, stop_loss, trailing)
            if side * point <= side * stop:
                return reason, stop, extreme
        elif side * point > side * previous:
            if side * point >= side * take_profit:
                return REASON_TAKE_PROFIT, take_profit, extreme
            if side * point > side * extreme:
                extreme = point
        previous = point
    return 0, np.nan, extreme

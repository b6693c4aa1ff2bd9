"""Position and account state of the simulation, and the two ways it changes (numba).

`_open_position` runs the entry through sizing and the risk rules and records the fill or the
rejection; `_close_position` closes a leg's whole position. State lives in small float64
arrays (`P_*` columns per leg, `A_*` account slots) so helpers can update it in place.
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import (
    CFG_COOLDOWN_BARS,
    CFG_COOLDOWN_LOSSES,
    CFG_LOT_SIZE,
    CFG_PRICE_DECIMALS,
    CFG_SL_KIND,
    CFG_SL_VALUE,
    CFG_SLIPPAGE,
    CFG_TP_KIND,
    CFG_TP_VALUE,
    F_BAR,
    F_FEE,
    F_LEG,
    F_LOTS,
    F_PRICE,
    F_REASON,
    F_SIDE,
    R_BAR,
    R_LEG,
    R_LOTS,
    R_REASON,
    R_SIDE,
    REASON_ENTRY,
    REASON_TAKE_PROFIT,
    REJECT_COOLDOWN,
    STOP_ATR,
)
from velocitas.engine.intrabar import adverse_level, favourable_level
from velocitas.engine.risk import count_refusal, entry_lots, entry_refusal, order_fee
from velocitas.jit import njit

NO_BLOCK = 2  # a side value no signal can take
# Account state, kept in one small array so helpers can update it in place.
A_CASH = 0
A_CONSECUTIVE_LOSSES = 1
A_COOLDOWN_UNTIL = 2
A_OPEN_LEGS = 3  # legs holding a position: lets quiet bars skip the order and stop phases
# The risk state of the run (`velocitas.engine.step`), kept with the account so one array carries
# it.
A_EQUITY = 4  # equity at the latest close marked
A_PEAK = 5  # highest equity marked so far (drawdown kill switch)
A_DAY = 6  # UTC day number of the current day (daily loss limit)
A_DAY_START_EQUITY = 7
A_HALTED = 8  # 1.0 once the daily loss limit is hit, until the next day
A_KILLED = 9  # 1.0 once the drawdown kill switch fired (for good)
A_PENDING = 10  # 1.0 while some leg has an order waiting for its next open
A_DAY_ENTRIES = 11  # entries filled on the current day (maximum trades per day)
A_SIZE = 12
# Per-leg position state columns.
P_LOTS = 0  # signed whole lots (exact in float64 below 2**53)
P_ENTRY_PRICE = 1
P_ENTRY_FEE = 2
P_STOP_LOSS = 3
P_TAKE_PROFIT = 4
P_EXTREME = 5  # best price since entry, for the trailing stop
P_MARK = 6  # latest known price of the leg
P_ENTRY_BAR = 7  # the bar the position was opened on (maximum holding period)
P_SIZE = 8


@njit(cache=True)
def _fill_price(raw: float, order_side: int, slippage: float, decimals: int) -> float:
    """Buys pay `slippage` more, sells receive that much less; rounded to the price grid."""
    return round_price(raw * (1.0 + order_side * slippage), decimals)


@njit(cache=True, inline="always")
def round_price(x: float, decimals: int) -> float:
    """`x` on the grid of `decimals` (>= 0) places: numba's `round(x, decimals)`, spelled out.

    numba scales by 10**decimals, rounds to the nearest integer (halves to even, IEEE `rint`)
    and scales back; Python's `round` rounds the exact decimal value instead, so the two part
    where the scaling itself rounds onto or across a half. Written out with `np.rint`, a
    plain-Python run (`velocitas.jit`) gets the compiled run's prices, which stay what they
    always were."""
    if np.isinf(x) or np.isnan(x):
        return x
    if decimals > 22:  # numba's split: 10**decimals alone would overflow
        scale, rest = 10.0 ** (decimals - 22), 1e22
    else:
        scale, rest = 10.0**decimals, 1.0
    y = (x * scale) * rest
    if np.isinf(y):
        return x
    return (np.rint(y) / rest) / scale


@njit(cache=True, inline="always")
def equity_of(
    cash: float, account_open_legs: float, position: np.ndarray, lot: float
) -> tuple[float, float]:
    """(equity, funds available for a new entry) with every leg marked at its latest price."""
    equity = cash
    if account_open_legs == 0.0:
        return equity, equity
    exposure = 0.0
    for leg in range(position.shape[0]):
        lots = position[leg, P_LOTS]
        if lots != 0.0:
            value = lots * lot * position[leg, P_MARK]
            equity += value
            exposure += abs(value)
    return equity, equity - exposure


@njit(cache=True)
def record_rejection(
    rejections: np.ndarray, count: int, t: int, leg: int, side: int, lots: float, reason: int
) -> None:
    if count >= rejections.shape[0]:
        return  # over capacity: counted only; the caller reruns with room for all
    rejections[count, R_BAR] = t
    rejections[count, R_LEG] = leg
    rejections[count, R_SIDE] = side
    rejections[count, R_LOTS] = lots
    rejections[count, R_REASON] = reason


@njit(cache=True)
def _record_fill(
    fills: np.ndarray,
    count: int,
    t: int,
    leg: int,
    side: int,
    lots: float,
    price: float,
    fee: float,
    reason: int,
) -> None:
    if count >= fills.shape[0]:
        return  # over capacity: counted only; the caller reruns with room for all
    fills[count, F_BAR] = t
    fills[count, F_LEG] = leg
    fills[count, F_SIDE] = side
    fills[count, F_LOTS] = lots
    fills[count, F_PRICE] = price
    fills[count, F_FEE] = fee
    fills[count, F_REASON] = reason


@njit(cache=True)
def close_position(
    fills: np.ndarray,
    count: int,
    t: int,
    leg: int,
    raw_price: float,
    reason: int,
    position: np.ndarray,
    account: np.ndarray,
    cfg: np.ndarray,
) -> None:
    """Close leg's whole position at `raw_price` (plus slippage unless a take-profit limit)."""
    lots = position[leg, P_LOTS]
    side = 1 if lots > 0 else -1
    slippage = 0.0 if reason == REASON_TAKE_PROFIT else cfg[CFG_SLIPPAGE]
    price = _fill_price(raw_price, -side, slippage, int(cfg[CFG_PRICE_DECIMALS]))
    quantity = abs(lots) * cfg[CFG_LOT_SIZE]
    fee = order_fee(quantity * price, cfg)
    account[A_CASH] += side * quantity * price - fee
    net = (
        side * quantity * (price - position[leg, P_ENTRY_PRICE]) - position[leg, P_ENTRY_FEE] - fee
    )
    losses_needed = cfg[CFG_COOLDOWN_LOSSES]
    if losses_needed > 0:
        if net < 0.0:
            account[A_CONSECUTIVE_LOSSES] += 1.0
            if account[A_CONSECUTIVE_LOSSES] >= losses_needed:
                account[A_COOLDOWN_UNTIL] = t + cfg[CFG_COOLDOWN_BARS]
                account[A_CONSECUTIVE_LOSSES] = 0.0
        else:
            account[A_CONSECUTIVE_LOSSES] = 0.0
    position[leg, P_LOTS] = 0.0
    account[A_OPEN_LEGS] -= 1.0
    _record_fill(fills, count, t, leg, -side, abs(lots), price, fee, reason)


@njit(cache=True)
def open_position(
    fills: np.ndarray,
    rejections: np.ndarray,
    counts: np.ndarray,
    t: int,
    leg: int,
    side: int,
    raw_price: float,
    entry_atr: tuple[float, float],
    halt_reason: int,
    scale: float,
    position: np.ndarray,
    account: np.ndarray,
    cfg: np.ndarray,
) -> bool:
    """Try to open a `side` position on `leg`; record the fill or the rejection."""
    if halt_reason == 0 and t <= account[A_COOLDOWN_UNTIL]:
        halt_reason = REJECT_COOLDOWN
    if halt_reason == 0:
        halt_reason = count_refusal(account[A_OPEN_LEGS], account[A_DAY_ENTRIES], cfg)
    if halt_reason != 0:
        record_rejection(rejections, counts[1], t, leg, side, 0.0, halt_reason)
        counts[1] += 1
        return False
    lot = cfg[CFG_LOT_SIZE]
    price = _fill_price(raw_price, side, cfg[CFG_SLIPPAGE], int(cfg[CFG_PRICE_DECIMALS]))
    equity, available = equity_of(account[A_CASH], account[A_OPEN_LEGS], position, lot)
    lots = entry_lots(price, equity, scale, cfg)
    refusal = entry_refusal(lots, price, equity, available, cfg)
    if refusal != 0:
        record_rejection(rejections, counts[1], t, leg, side, lots, refusal)
        counts[1] += 1
        return False
    notional = lots * lot * price
    fee = order_fee(notional, cfg)
    account[A_CASH] -= side * notional + fee
    position[leg, P_LOTS] = side * lots
    position[leg, P_MARK] = raw_price  # the market price now, before our slippage
    account[A_OPEN_LEGS] += 1.0
    account[A_DAY_ENTRIES] += 1.0
    position[leg, P_ENTRY_BAR] = t
    position[leg, P_ENTRY_PRICE] = price
    position[leg, P_ENTRY_FEE] = fee
    position[leg, P_EXTREME] = price
    position[leg, P_STOP_LOSS] = adverse_level(
        price, side, int(cfg[CFG_SL_KIND]), cfg[CFG_SL_VALUE], entry_atr[0]
    )
    position[leg, P_TAKE_PROFIT] = favourable_level(
        price, side, int(cfg[CFG_TP_KIND]), cfg[CFG_TP_VALUE], entry_atr[1]
    )
    _record_fill(fills, counts[0], t, leg, side, float(lots), price, fee, REASON_ENTRY)
    counts[0] += 1
    return True


@njit(cache=True)
def atr_at(atr: np.ndarray, t: int, leg: int, kind: int) -> float:
    if kind != STOP_ATR or t < 0:
        return np.nan
    return atr[t, leg]

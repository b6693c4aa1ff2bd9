"""Entry sizing and the risk rules every entry order passes before it may fill (numba).

Exits are never refused: they only reduce risk. An entry that fails a rule is rejected with a
reason code (`velocitas.engine.codes.REJECT_*`); it is never shrunk to fit.

The checks are plain functions of numbers and the configuration vector
(`velocitas.engine.runner.kernel_config(spec)`), callable from Python as well as from the
kernel, so an order management system checks a manual order against the very rules a backtest
applies, with its own counters: `confidence_refusal` (the signal's confidence),
`count_refusal` (open positions, entries today) and `entry_refusal` (size, position, cash).
Each returns 0 or a `REJECT_*` code (`velocitas.engine.codes.REJECT_REASONS[code]` names it).
"""

from __future__ import annotations

import math

import numpy as np

from velocitas.engine.codes import (
    CFG_FEE_FIXED,
    CFG_FEE_RATE,
    CFG_LOT_SIZE,
    CFG_MAX_OPEN_POSITIONS,
    CFG_MAX_POSITION,
    CFG_MAX_TRADES_PER_DAY,
    CFG_MIN_CONFIDENCE,
    CFG_SIZING_MODE,
    CFG_SIZING_VALUE,
    REJECT_INSUFFICIENT_FUNDS,
    REJECT_LOW_CONFIDENCE,
    REJECT_MAX_OPEN_POSITIONS,
    REJECT_MAX_POSITION,
    REJECT_MAX_TRADES_PER_DAY,
    REJECT_SIZE_BELOW_LOT,
    SIZING_FIXED_CASH,
    SIZING_FIXED_QUANTITY,
)
from velocitas.jit import njit

# A quantity such as 0.3 / 0.1 evaluates to 2.9999999999999996 in binary; this nudge keeps
# decimal-exact sizes on their lot instead of one lot lower.
LOT_EPSILON = 1e-9
# Cash checks allow this relative float error, so a `fraction_of_equity = 1` entry is not refused
# over a rounding ulp; the Decimal ledger is the reference for money.
CASH_TOLERANCE = 1e-12


@njit(cache=True)
def entry_lots(price: float, equity: float, scale: float, cfg: np.ndarray) -> int:
    """Whole lots for an entry at `price`, rounded DOWN to the lot grid (may be 0)."""
    lot = cfg[CFG_LOT_SIZE]
    value = cfg[CFG_SIZING_VALUE] * scale
    mode = int(cfg[CFG_SIZING_MODE])
    if mode == SIZING_FIXED_QUANTITY:
        units = value / lot + LOT_EPSILON
    elif mode == SIZING_FIXED_CASH:
        units = value / price / lot + LOT_EPSILON
    else:
        budget = value * equity - cfg[CFG_FEE_FIXED]
        # Cost per lot includes the proportional fee so the whole order fits the budget.
        units = budget / (price * lot * (1.0 + cfg[CFG_FEE_RATE]))
    if not units > 0.0:
        return 0
    return math.floor(units)


@njit(cache=True)
def order_fee(notional: float, cfg: np.ndarray) -> float:
    """Proportional fee on the notional plus the fixed fee per order."""
    return notional * cfg[CFG_FEE_RATE] + cfg[CFG_FEE_FIXED]


@njit(cache=True)
def entry_refusal(lots: int, price: float, equity: float, available: float, cfg: np.ndarray) -> int:
    """0 when an entry of `lots` at `price` passes size, position and cash rules, else a code."""
    if lots <= 0:
        return REJECT_SIZE_BELOW_LOT
    notional = lots * cfg[CFG_LOT_SIZE] * price
    max_position = cfg[CFG_MAX_POSITION]
    if not np.isnan(max_position) and notional > max_position * equity * (1.0 + CASH_TOLERANCE):
        return REJECT_MAX_POSITION
    cost = notional + order_fee(notional, cfg)
    if cost > available + abs(available) * CASH_TOLERANCE:
        return REJECT_INSUFFICIENT_FUNDS
    return 0


@njit(cache=True)
def count_refusal(open_positions: float, entries_today: float, cfg: np.ndarray) -> int:
    """0 when one more entry keeps within `max_open_positions` (legs holding a position now)
    and `max_trades_per_day` (entries filled so far on this UTC day), else a code."""
    max_open = cfg[CFG_MAX_OPEN_POSITIONS]
    if not np.isnan(max_open) and open_positions >= max_open:
        return REJECT_MAX_OPEN_POSITIONS
    max_trades = cfg[CFG_MAX_TRADES_PER_DAY]
    if not np.isnan(max_trades) and entries_today >= max_trades:
        return REJECT_MAX_TRADES_PER_DAY
    return 0


@njit(cache=True)
def confidence_refusal(confidence: float, cfg: np.ndarray) -> int:
    """0 when an entry's signal `confidence` (in [0, 1]) reaches `min_confidence`, else a code.
    A NaN confidence never passes a set minimum."""
    minimum = cfg[CFG_MIN_CONFIDENCE]
    if not np.isnan(minimum) and not confidence >= minimum:
        return REJECT_LOW_CONFIDENCE
    return 0

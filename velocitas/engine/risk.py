"""Entry sizing and the risk rules every entry order passes before it may fill (numba).

Exits are never refused: they only reduce risk. An entry that fails a rule is rejected with a
reason code (`velocitas.engine.codes.REJECT_*`); it is never shrunk to fit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from velocitas.engine.codes import (
    CFG_FEE_FIXED,
    CFG_FEE_RATE,
    CFG_LOT_SIZE,
    CFG_MAX_POSITION,
    CFG_SIZING_MODE,
    CFG_SIZING_VALUE,
    REJECT_INSUFFICIENT_FUNDS,
    REJECT_MAX_POSITION,
    REJECT_SIZE_BELOW_LOT,
    SIZING_FIXED_CASH,
    SIZING_FIXED_QUANTITY,
)

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

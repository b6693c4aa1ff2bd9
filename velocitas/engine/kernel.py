"""The full-run loop: every bar of every leg, one shared cash account (numba).

Inputs are aligned 2-D arrays `[bar, leg]` (see `velocitas.engine.alignment`), the target side of
every leg at every bar's close, and the configuration vector (`velocitas.engine.codes.CFG_*`).
Outputs are preallocated record arrays (fills, rejections) and the equity at every bar's close.
Nothing here allocates a Python object per bar or per trade.

The rules of a bar live in `velocitas.engine.step.run_bars`, which the RL environment's
`velocitas.engine.stepper.Stepper` runs too, one step at a time.

`run_bars` is inlined here, so numba's on-disk cache of `simulate` is keyed by this file, not by
`step.py`: a change to the rules must touch this file too (a docstring line will do), or a
warm cache keeps running the previous rules (last: the `bridge` path model and the
trades-per-day, open-positions, holding-period, session-close and confidence rules, issue 14).
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import CFG_MIN_CONFIDENCE, F_COLUMNS, R_COLUMNS
from velocitas.engine.positions import A_SIZE, P_SIZE
from velocitas.engine.step import O_SIZE, init_state, run_bars
from velocitas.jit import njit

NO_CONFIDENCE = np.ones((1, 1))
"""The `confidence` placeholder of a run without a minimum confidence (never read)."""
NO_SESSIONS = np.zeros(0, dtype=np.bool_)
"""The `session_last` placeholder of a run not flattened at session closes."""


@njit(cache=True)
def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    has_bar: np.ndarray,
    signals: np.ndarray,
    day: np.ndarray,
    atr_stop_loss: np.ndarray,
    atr_take_profit: np.ndarray,
    atr_trailing: np.ndarray,
    leg_scale: np.ndarray,
    cfg: np.ndarray,
    fills: np.ndarray,
    rejections: np.ndarray,
    opened_at: np.ndarray,
    leg_keys: np.ndarray,
    confidence: np.ndarray,
    session_last: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the whole backtest into the `fills` and `rejections` record buffers.

    Returns ([fill count, rejection count], equity at every bar's close). Counts above a
    buffer's capacity mean records were dropped: run again with buffers that large.

    Price arrays are `[bar, leg]` float64 with each leg's last close carried over bars where
    `has_bar` is False; `signals` is int8 target side; `day` is the UTC day number of each bar
    (read only with a daily loss limit; a one-element placeholder otherwise);
    ATR arrays are read only for ATR-based stops (shape (1, 1) placeholders otherwise);
    `opened_at` (int64 ns, a bar's open time) and `leg_keys` (each leg's
    `velocitas.engine.ticks.symbol_key`) are read only by the `bridge` path model.
    `confidence` (`[bar, leg]` float64 in [0, 1]) only with a minimum confidence
    (`NO_CONFIDENCE` otherwise); `session_last` (bool per bar: the last bar of a trading
    session) only when positions go flat at session closes (`NO_SESSIONS` otherwise).
    """
    n, legs = close.shape
    counts = np.zeros(2, dtype=np.int64)  # fills, rejections
    equity_curve = np.empty(n)
    account = np.empty(A_SIZE)
    position = np.empty((legs, P_SIZE))
    orders = np.empty((O_SIZE, legs), dtype=np.int64)
    init_state(0, day, cfg, account, position, orders, counts)
    run_bars(
        0, n - 1, False, False, open_, high, low, close, has_bar, signals, day,
        atr_stop_loss, atr_take_profit, atr_trailing, leg_scale, cfg,
        account, position, orders, counts, fills, rejections, equity_curve, opened_at, leg_keys,
        confidence, session_last,
    )  # fmt: skip
    return counts, equity_curve


def run_kernel(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    has_bar: np.ndarray,
    signals: np.ndarray,
    day: np.ndarray,
    atr_stop_loss: np.ndarray,
    atr_take_profit: np.ndarray,
    atr_trailing: np.ndarray,
    leg_scale: np.ndarray,
    cfg: np.ndarray,
    opened_at: np.ndarray,
    leg_keys: np.ndarray,
    confidence: np.ndarray = NO_CONFIDENCE,
    session_last: np.ndarray = NO_SESSIONS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`simulate` with record buffers sized for the run: (fills, rejections, equity).

    The first guess holds one fill per 8 bars and one rejection per 64 bars per leg; a busier
    run is simulated once more with exactly the room it reported needing (the kernel is
    deterministic, so the second pass repeats the first).
    """
    if not np.isnan(cfg[CFG_MIN_CONFIDENCE]) and confidence.shape != close.shape:
        # `simulate` reads it without bounds checks: a placeholder here would read garbage.
        raise ValueError("a minimum confidence needs a [bar, leg] confidence array")
    fill_room = 1024 + close.size // 8
    rejection_room = 1024 + close.size // 64
    while True:
        fills = np.empty((fill_room, F_COLUMNS))
        rejections = np.empty((rejection_room, R_COLUMNS))
        counts, equity = simulate(
            open_, high, low, close, has_bar, signals, day,
            atr_stop_loss, atr_take_profit, atr_trailing, leg_scale, cfg, fills, rejections,
            opened_at, leg_keys,
            confidence, session_last,
        )  # fmt: skip
        if counts[0] <= fill_room and counts[1] <= rejection_room:
            return fills[: counts[0]], rejections[: counts[1]], equity
        fill_room = max(fill_room, int(counts[0]))
        rejection_room = max(rejection_room, int(counts[1]))

"""The fast path of a sweep: many SMA-crossover runs of one leg at once, on every core (numba).

Each combination fuses the strategy (`velocitas.strategies.crossover.sma_cross_side`, the same
rolling sums operation for operation, so the same signals) with a one-leg copy of the main
kernel's next-open loop that calls the main kernel's own `open_position` / `close_position` /
`equity_of`, so sizing, fees, slippage and rounding are the engine's. Nothing per bar is kept:
each combination streams what the ranking needs (final equity, trade count, maximum drawdown,
the period-return sums of `velocitas.metrics._equity_stats`, winning and losing trade totals).

Supported subset: one leg, next-open fills, no stops, no risk rules (the caller checks and
otherwise runs the general path). Closes must be finite and positive (`select_bars` checks).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from velocitas.engine.codes import (
    CFG_INITIAL_CASH,
    CFG_LOT_SIZE,
    F_COLUMNS,
    R_COLUMNS,
    REASON_END_OF_DATA,
    REASON_SIGNAL,
)
from velocitas.engine.positions import (
    A_CASH,
    A_COOLDOWN_UNTIL,
    A_OPEN_LEGS,
    A_SIZE,
    NO_BLOCK,
    P_LOTS,
    P_MARK,
    P_SIZE,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    close_position,
    equity_of,
    open_position,
)
from velocitas.strategies.crossover import _cross_step

__all__ = [
    "S_COLUMNS",
    "S_COUNT",
    "S_DOWNSIDE",
    "S_FINAL_EQUITY",
    "S_GROSS_LOSS",
    "S_GROSS_WIN",
    "S_MAX_DRAWDOWN",
    "S_MEAN",
    "S_STD",
    "S_TRADES",
    "sma_sweep",
]

# Columns of the per-combination statistics.
S_FINAL_EQUITY = 0
S_TRADES = 1
S_MAX_DRAWDOWN = 2
S_COUNT = 3  # period returns counted
S_MEAN = 4  # mean period return
S_STD = 5  # std of period returns, ddof 1
S_DOWNSIDE = 6  # √mean(min(r, 0)²)
S_GROSS_WIN = 7  # Σ net P&L of winning trades
S_GROSS_LOSS = 8  # −Σ net P&L of losing trades
S_COLUMNS = 9


@njit(cache=True)
def _one_combination(
    open_: np.ndarray,
    close: np.ndarray,
    fast: int,
    slow: int,
    strategy_short: bool,
    scale: float,
    cfg: np.ndarray,
    allow_short: bool,
    out: np.ndarray,
) -> None:
    n = len(close)
    position = np.zeros((1, P_SIZE))
    position[0, P_STOP_LOSS] = np.nan
    position[0, P_TAKE_PROFIT] = np.nan
    account = np.zeros(A_SIZE)
    initial = cfg[CFG_INITIAL_CASH]
    account[A_CASH] = initial
    account[A_COOLDOWN_UNTIL] = -1.0
    # Zero-row record buffers: the engine's helpers only count what does not fit.
    fills = np.empty((0, F_COLUMNS))
    rejections = np.empty((0, R_COLUMNS))
    counts = np.zeros(2, dtype=np.int64)
    lot = cfg[CFG_LOT_SIZE]

    pending = False
    pending_filled = False  # a fill happened in this bar (equity may move while flat)
    pending_side = 0
    blocked = NO_BLOCK
    last_signal = NO_BLOCK
    sum_fast = 0.0
    sum_slow = 0.0
    order = 0
    side_held = 0
    trades = 0
    cash_at_entry = 0.0
    gross_win = 0.0
    gross_loss = 0.0
    # velocitas.metrics._equity_stats and _drawdown, streamed (initial equity given, rf = 0).
    prev = initial
    count = 0
    shift = 0.0
    total = 0.0
    squares = 0.0
    downside = 0.0
    peak = initial
    deepest = 0.0
    equity = initial

    for t in range(n):
        if pending:
            pending_filled = True  # cash may change at this open
            position[0, P_MARK] = open_[t]
            lots = position[0, P_LOTS]
            if lots != 0.0:
                held = 1 if lots > 0 else -1
                if pending_side != held:
                    close_position(fills, 0, t, 0, open_[t], REASON_SIGNAL, position, account, cfg)
                    trades += 1
                    net = account[A_CASH] - cash_at_entry
                    if net > 0.0:
                        gross_win += net
                    elif net < 0.0:
                        gross_loss -= net
            pending = False
            if pending_side != 0 and position[0, P_LOTS] == 0.0:
                cash_before = account[A_CASH]
                opened = open_position(
                    fills, rejections, counts, t, 0, pending_side, open_[t],
                    (np.nan, np.nan), 0, scale, position, account, cfg,
                )  # fmt: skip
                if opened:
                    cash_at_entry = cash_before
                else:
                    blocked = pending_side

        if account[A_OPEN_LEGS] > 0:
            position[0, P_MARK] = close[t]
        last_bar = t == n - 1
        if last_bar and position[0, P_LOTS] != 0.0:
            pending_filled = True
            close_position(
                fills, 0, t, 0, position[0, P_MARK], REASON_END_OF_DATA, position, account, cfg
            )
            trades += 1
            net = account[A_CASH] - cash_at_entry
            if net > 0.0:
                gross_win += net
            elif net < 0.0:
                gross_loss -= net

        if account[A_OPEN_LEGS] > 0 or pending_filled:
            equity, _ = equity_of(account[A_CASH], account[A_OPEN_LEGS], position, lot)
            if prev > 0.0:
                x = equity / prev - 1.0
                if count == 0:
                    shift = x
                d = x - shift
                total += d
                squares += d * d
                loss = min(x, 0.0)
                downside += loss * loss
                count += 1
            prev = equity
            # Branch-free (a random-walk curve defeats branch prediction); the same value as
            # _drawdown's, since 1 − equity / peak is 0 when equity sets the peak.
            peak = max(peak, equity)
            deepest = max(deepest, 1.0 - equity / peak)
        elif prev > 0.0:
            # Flat with no fill: equity is the previous close's exactly, so the return is 0.0
            # (as equity / prev − 1 computes it) and the drawdown cannot deepen.
            if count == 0:
                shift = 0.0
            d = -shift
            total += d
            squares += d * d
            count += 1
        pending_filled = False

        # The strategy's target at t's close (sma_cross_side), then the kernel's _decide.
        x_close = close[t]
        sum_fast += x_close
        sum_slow += x_close
        if t >= fast:
            sum_fast -= close[t - fast]
        if t >= slow:
            sum_slow -= close[t - slow]
        if t >= fast - 1 and t >= slow - 1:
            order, side_held = _cross_step(order, side_held, sum_fast / fast, sum_slow / slow)
        if last_bar:
            continue
        signal = side_held if (strategy_short or side_held >= 0) else 0
        if signal == last_signal:
            pending = False
            continue
        last_signal = signal
        lots = position[0, P_LOTS]
        current = 0 if lots == 0.0 else (1 if lots > 0 else -1)
        target = signal
        if target < 0 and not allow_short:
            target = 0
        if blocked != NO_BLOCK:
            if target == blocked:
                target = current
            else:
                blocked = NO_BLOCK
        pending = target != current
        pending_side = target

    out[S_FINAL_EQUITY] = equity
    out[S_TRADES] = trades
    out[S_MAX_DRAWDOWN] = deepest
    out[S_COUNT] = count
    if count == 0:
        out[S_MEAN] = np.nan
        out[S_STD] = np.nan
        out[S_DOWNSIDE] = np.nan
    else:
        mean = total / count
        out[S_MEAN] = mean + shift
        out[S_STD] = (
            np.sqrt(max(squares - count * mean * mean, 0.0) / (count - 1)) if count > 1 else np.nan
        )
        out[S_DOWNSIDE] = np.sqrt(downside / count)
    out[S_GROSS_WIN] = gross_win
    out[S_GROSS_LOSS] = gross_loss


@njit(cache=True, parallel=True)
def sma_sweep(
    open_: np.ndarray,
    close: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
    strategy_short: np.ndarray,
    scale: float,
    cfg: np.ndarray,
    allow_short: bool,
) -> np.ndarray:
    """Statistics (`S_*` columns) of each (fast[i], slow[i], strategy_short[i]) combination.

    `cfg` is `velocitas.engine.runner.kernel_config(spec)`; `scale` the leg's weight; `allow_short`
    the spec's. Combinations run in parallel over numba's threads.
    """
    out = np.empty((len(fast), S_COLUMNS))
    for i in prange(len(fast)):
        _one_combination(
            open_, close, int(fast[i]), int(slow[i]), bool(strategy_short[i]),
            scale, cfg, allow_short, out[i],
        )  # fmt: skip
    return out

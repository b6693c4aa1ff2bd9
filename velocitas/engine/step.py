"""`run_bars`: the engine's rules for a bar of every leg, the only place they are written (numba).

The full-run loop (`velocitas.engine.kernel.simulate`) runs every bar through it in one call; the RL
environment's `velocitas.engine.stepper.Stepper` runs its one leg through it a step at a time, cut
at
each bar's decision point (the close, where a strategy or an agent picks the target side).
Backtests and the environment therefore run the same code and cannot disagree.

`run_bars(first, last, from_decision, to_decision, ...)` runs bars first..last; the first may
start at its decision point (its first half ran before) and the last may stop there (the caller
then sets `signals[last]` and runs it on later). Order of events inside bar t (see
docs/backtesting-assumptions.md):

    up to the decision
      1. a new UTC day lifts the daily-loss halt and resets the day's entry count (only with a
         daily loss limit or a maximum of trades per day);
      2. next-open mode: orders decided at t−1's close fill at t's open, exits before entries
         (positions held `max_holding_bars` leave here too); no entry on a session's last bar;
      3. stop loss / take profit / trailing stop along the intrabar path (`bridge`: along the
         bar's seeded ticks, `velocitas.engine.ticks`, drawn only while a position is open);
      4. marks at the close; on a session's last bar every position closes at it (flat at the
         session close); next-open mode: the end-of-data close on the last bar; equity;
         risk evaluation (drawdown kill switch, daily loss);
    from the decision
      5. each leg's target side at t's close (`signals[t]`) becomes an order or none (an entry
         below the minimum confidence is refused here);
      6. same-close mode: the orders fill at the close (positions held `max_holding_bars`
         leave with them; no entry on a session's last bar), then the end-of-data close on the
         last bar and the equity; next-open mode: they wait for the leg's next open.

Why a range of bars and not one call per bar: numba increfs and decrefs every array argument
of a call it cannot prune, about forty atomic operations per bar here, which made a per-bar
call seven times slower than this loop (bench/RESULTS.md, "One per-bar code path").

Quiet bars: most bars of a one-leg run change nothing but the marks, the equity and its peak
(the target side is the one already seen, no order waits, no stop fires along the bar's path,
the drawdown kill switch does not fire). From the start of such a bar, `run_bars` runs the
stretch of them in a tight loop on locals (cash, lots, stop levels, the trailing extreme),
computing each bar's equity exactly as `equity_of` does (cash + lots × lot × close), and hands
the first bar that is not quiet to the full rules below, which redo it from its start (a
quiet bar's updates are idempotent, so nothing is counted twice). Results are bit-identical to
running every bar through the full rules (the Stepper, which never takes the shortcut, is held
equal to the kernel by `tests/velocitas/engine/test_stepper.py`, stops and risk rules
included); the shortcut is off with several legs and with a daily loss limit.

State lives in small arrays the caller owns (`init_state` fills them), so a call allocates
nothing: `account` (`velocitas.engine.positions.A_*`: cash, loss streak, cooldown, open legs and
the risk state), `position` (`P_*` columns, a row per leg), `orders` (`O_*` rows, a column
per leg) and `counts` (fill and rejection records written so far). The risk state is held in
locals inside the loop and written back when the call returns.
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import (
    CFG_ALLOW_SHORT,
    CFG_FILL_MODE,
    CFG_INITIAL_CASH,
    CFG_LOT_SIZE,
    CFG_MAX_DAILY_LOSS,
    CFG_MAX_DRAWDOWN,
    CFG_MAX_HOLDING_BARS,
    CFG_MAX_TRADES_PER_DAY,
    CFG_MIN_CONFIDENCE,
    CFG_PATH,
    CFG_SL_KIND,
    CFG_TICK_SEED,
    CFG_TICKS_PER_BAR,
    CFG_TP_KIND,
    CFG_TS_KIND,
    CFG_TS_VALUE,
    FILL_NEXT_OPEN,
    PATH_BRIDGE,
    REASON_END_OF_DATA,
    REASON_KILL_SWITCH,
    REASON_MAX_HOLDING,
    REASON_SESSION_CLOSE,
    REASON_SIGNAL,
    REJECT_DAILY_LOSS_LIMIT,
    REJECT_KILL_SWITCH,
    STOP_NONE,
)
from velocitas.engine.intrabar import walk_bar
from velocitas.engine.positions import (
    A_CASH,
    A_COOLDOWN_UNTIL,
    A_DAY,
    A_DAY_ENTRIES,
    A_DAY_START_EQUITY,
    A_EQUITY,
    A_HALTED,
    A_KILLED,
    A_OPEN_LEGS,
    A_PEAK,
    A_PENDING,
    NO_BLOCK,
    P_ENTRY_BAR,
    P_EXTREME,
    P_LOTS,
    P_MARK,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    atr_at,
    close_position,
    equity_of,
    open_position,
    record_rejection,
)
from velocitas.engine.risk import confidence_refusal
from velocitas.engine.ticks import walk_bridge
from velocitas.jit import njit

# Rows of the order state (int64, a column per leg).
O_PENDING = 0  # 1 while an order waits to be filled
O_SIDE = 1  # the pending order's target side
O_BLOCKED = 2  # a side not re-entered until the signal leaves it (NO_BLOCK: none)
O_LAST_SIGNAL = 3  # the target side seen at the leg's previous bar (NO_BLOCK: none yet)
O_SIZE = 4


@njit(cache=True)
def init_state(
    start: int,
    day: np.ndarray,
    cfg: np.ndarray,
    account: np.ndarray,
    position: np.ndarray,
    orders: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Flat with the initial cash, no order, no record, a new day starting at bar `start`."""
    account[:] = 0.0
    account[A_CASH] = cfg[CFG_INITIAL_CASH]
    account[A_COOLDOWN_UNTIL] = -1.0
    account[A_PEAK] = cfg[CFG_INITIAL_CASH]
    account[A_EQUITY] = cfg[CFG_INITIAL_CASH]
    account[A_DAY_START_EQUITY] = cfg[CFG_INITIAL_CASH]
    track_days = not np.isnan(cfg[CFG_MAX_DAILY_LOSS]) or not np.isnan(cfg[CFG_MAX_TRADES_PER_DAY])
    account[A_DAY] = day[start] - 1 if track_days else 0.0
    position[:, :] = 0.0
    position[:, P_STOP_LOSS] = np.nan
    position[:, P_TAKE_PROFIT] = np.nan
    orders[:, :] = 0
    orders[O_BLOCKED, :] = NO_BLOCK
    orders[O_LAST_SIGNAL, :] = NO_BLOCK
    counts[:] = 0


@njit(cache=True, inline="always")
def run_bars(
    first: int,
    last: int,
    from_decision: bool,
    to_decision: bool,
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
    account: np.ndarray,
    position: np.ndarray,
    orders: np.ndarray,
    counts: np.ndarray,
    fills: np.ndarray,
    rejections: np.ndarray,
    equity_curve: np.ndarray,
    opened_at: np.ndarray,
    leg_keys: np.ndarray,
    confidence: np.ndarray,
    session_last: np.ndarray,
) -> None:
    """Run bars `first`..`last`: bar `first` from its decision point on if `from_decision`,
    bar `last` only up to its decision point if `to_decision`.

    Arrays are those of `velocitas.engine.kernel.simulate`, plus the state (`init_state`) and the
    equity at each bar's close, `equity_curve[t]` (in same-close mode the half up to the
    decision writes the equity before the close's fills, the other half the final one).
    `opened_at` (each bar's open, int64 ns) and `leg_keys` (`velocitas.engine.ticks.symbol_key`
    of each leg) are read only by the `bridge` path model, which walks the bar's ticks.
    `confidence` ([bar, leg], read only with a minimum confidence) is each target side's
    confidence; `session_last[t]` is True on the last bar of a trading session (empty when the
    run is not flattened at session closes).
    """
    n, legs = close.shape
    lot = cfg[CFG_LOT_SIZE]
    next_open = int(cfg[CFG_FILL_MODE]) == FILL_NEXT_OPEN
    allow_short = cfg[CFG_ALLOW_SHORT] != 0.0
    sl_kind = int(cfg[CFG_SL_KIND])
    tp_kind = int(cfg[CFG_TP_KIND])
    ts_kind = int(cfg[CFG_TS_KIND])
    ts_value = cfg[CFG_TS_VALUE]
    path = int(cfg[CFG_PATH])
    bridge = path == PATH_BRIDGE
    tick_count = int(cfg[CFG_TICKS_PER_BAR])
    tick_seed = int(cfg[CFG_TICK_SEED])
    stops_on = sl_kind != STOP_NONE or tp_kind != STOP_NONE or ts_kind != STOP_NONE
    max_daily_loss = cfg[CFG_MAX_DAILY_LOSS]
    max_drawdown = cfg[CFG_MAX_DRAWDOWN]
    max_trades = cfg[CFG_MAX_TRADES_PER_DAY]
    # Else `day` may be a (1,) placeholder.
    track_days = not np.isnan(max_daily_loss) or not np.isnan(max_trades)
    max_holding = cfg[CFG_MAX_HOLDING_BARS]
    holding_on = not np.isnan(max_holding)
    sessions_on = session_last.shape[0] > 0
    confidence_on = not np.isnan(cfg[CFG_MIN_CONFIDENCE])

    # The risk state in locals for the loop; written back below.
    equity = account[A_EQUITY]
    peak = account[A_PEAK]
    current_day = account[A_DAY]
    day_start_equity = account[A_DAY_START_EQUITY]
    halted_today = account[A_HALTED] != 0.0
    killed = account[A_KILLED] != 0.0
    any_pending = account[A_PENDING] != 0.0
    pending = orders[O_PENDING]
    pending_side = orders[O_SIDE]
    blocked = orders[O_BLOCKED]
    last_signal = orders[O_LAST_SIGNAL]

    # Quiet stretches (module docstring) can run only for one leg with no daily loss limit
    # (entries, which the trades-per-day count watches, never happen in one); they end before
    # the run's last bar and before a bar cut at its decision.
    quiet_ok = legs == 1 and np.isnan(max_daily_loss)
    quiet_end = min(last if to_decision else last + 1, n - 1)
    kill_switch = not np.isnan(max_drawdown)

    t = first
    while t <= last:
        if (
            quiet_ok
            and t < quiet_end
            and not killed
            and not any_pending
            and not (from_decision and t == first)
        ):
            # A stretch of quiet bars (module docstring), run on locals.
            lots = position[0, P_LOTS]
            quiet_side = 0 if lots == 0.0 else (1 if lots > 0 else -1)
            held = lots * lot  # equity_of's lots * lot * mark, in the same order
            cash = account[A_CASH]
            seen = last_signal[0]
            walk = stops_on and quiet_side != 0
            stop_loss = position[0, P_STOP_LOSS]
            take_profit = position[0, P_TAKE_PROFIT]
            extreme = position[0, P_EXTREME]
            new_extreme = extreme
            # A held position's time exit (bar entry + N) and a session close end the stretch.
            until = quiet_end
            if holding_on and quiet_side != 0:
                until = min(until, int(position[0, P_ENTRY_BAR] + max_holding))
            watch_sessions = sessions_on and quiet_side != 0
            u = t
            while u < until:
                if not has_bar[u, 0] or signals[u, 0] != seen:
                    break
                if watch_sessions and session_last[u]:
                    break
                if walk and bridge:
                    reason, _, new_extreme = walk_bridge(
                        tick_seed, leg_keys[0], opened_at[u], tick_count, quiet_side,
                        open_[u, 0], high[u, 0], low[u, 0], close[u, 0], stop_loss, take_profit,
                        ts_kind, ts_value, atr_at(atr_trailing, u - 1, 0, ts_kind), extreme,
                    )  # fmt: skip
                    if reason != 0:
                        break
                elif walk:
                    reason, _, new_extreme = walk_bar(
                        quiet_side, open_[u, 0], high[u, 0], low[u, 0], close[u, 0], stop_loss,
                        take_profit, ts_kind, ts_value, atr_at(atr_trailing, u - 1, 0, ts_kind),
                        extreme, path,
                    )  # fmt: skip
                    if reason != 0:
                        break
                value = cash + held * close[u, 0] if quiet_side != 0 else cash
                top = max(peak, value)
                if kill_switch and value <= top * (1.0 - max_drawdown):
                    break
                extreme = new_extreme
                equity_curve[u] = value
                equity = value
                peak = top
                u += 1
            if u > t:
                if quiet_side != 0:
                    position[0, P_MARK] = close[u - 1, 0]
                    position[0, P_EXTREME] = extreme
                t = u
                continue
        last_bar = t == n - 1
        if not (from_decision and t == first):  # bar t up to its decision
            if track_days and day[t] != current_day:
                current_day = day[t]
                day_start_equity = equity  # the previous close's
                halted_today = False
                account[A_DAY_ENTRIES] = 0.0
            any_held = account[A_OPEN_LEGS] > 0
            holding_due = (
                holding_on and any_held and _holding_due(t, has_bar, position, max_holding)
            )
            session_ends = sessions_on and session_last[t]

            if next_open and (any_pending or (killed and any_held) or holding_due):
                for leg in range(legs):
                    if has_bar[t, leg]:
                        position[leg, P_MARK] = open_[t, leg]
                # Exits first: they free the cash that entries on the same open may need.
                for leg in range(legs):
                    lots = position[leg, P_LOTS]
                    if not has_bar[t, leg] or lots == 0.0:
                        continue
                    side = 1 if lots > 0 else -1
                    leaving = pending[leg] != 0 and pending_side[leg] != side
                    expired = holding_on and t - position[leg, P_ENTRY_BAR] >= max_holding
                    if killed or leaving or expired:
                        if killed or not leaving:
                            # The flattened side stays blocked until the signal leaves it.
                            blocked[leg] = side
                        reason = _exit_reason(killed, expired)
                        close_position(
                            fills, counts[0], t, leg, open_[t, leg], reason, position, account, cfg
                        )
                        counts[0] += 1
                for leg in range(legs):
                    if not has_bar[t, leg] or pending[leg] == 0:
                        continue
                    pending[leg] = 0
                    side = pending_side[leg]
                    if side == 0 or position[leg, P_LOTS] != 0.0:
                        continue
                    if session_ends:  # no entry on a session's last bar
                        blocked[leg] = side
                        continue
                    entry_atr = (
                        atr_at(atr_stop_loss, t - 1, leg, sl_kind),
                        atr_at(atr_take_profit, t - 1, leg, tp_kind),
                    )
                    opened = open_position(
                        fills, rejections, counts, t, leg, side, open_[t, leg], entry_atr,
                        REJECT_DAILY_LOSS_LIMIT if halted_today else 0, leg_scale[leg],
                        position, account, cfg,
                    )  # fmt: skip
                    if not opened:  # a refused side is not retried until the signal leaves it
                        blocked[leg] = side

            if stops_on and account[A_OPEN_LEGS] > 0:
                for leg in range(legs):
                    lots = position[leg, P_LOTS]
                    if not has_bar[t, leg] or lots == 0.0:
                        continue
                    side = 1 if lots > 0 else -1
                    if bridge:
                        reason, price, extreme = walk_bridge(
                            tick_seed, leg_keys[leg], opened_at[t], tick_count, side,
                            open_[t, leg], high[t, leg], low[t, leg], close[t, leg],
                            position[leg, P_STOP_LOSS], position[leg, P_TAKE_PROFIT], ts_kind,
                            ts_value, atr_at(atr_trailing, t - 1, leg, ts_kind),
                            position[leg, P_EXTREME],
                        )  # fmt: skip
                    else:
                        reason, price, extreme = walk_bar(
                            side, open_[t, leg], high[t, leg], low[t, leg], close[t, leg],
                            position[leg, P_STOP_LOSS], position[leg, P_TAKE_PROFIT], ts_kind,
                            ts_value, atr_at(atr_trailing, t - 1, leg, ts_kind),
                            position[leg, P_EXTREME], path,
                        )  # fmt: skip
                    position[leg, P_EXTREME] = extreme
                    if reason != 0:
                        close_position(
                            fills, counts[0], t, leg, price, reason, position, account, cfg
                        )
                        counts[0] += 1
                        # A stopped-out side is not re-entered until the signal leaves it.
                        blocked[leg] = side

            if account[A_OPEN_LEGS] > 0:  # only held legs' marks matter (entries set their own)
                for leg in range(legs):
                    if has_bar[t, leg]:
                        position[leg, P_MARK] = close[t, leg]
                if session_ends:  # flat at the session's close, each leg at its latest price
                    for leg in range(legs):
                        lots = position[leg, P_LOTS]
                        if lots != 0.0:
                            blocked[leg] = 1 if lots > 0 else -1
                            close_position(
                                fills, counts[0], t, leg, position[leg, P_MARK],
                                REASON_SESSION_CLOSE, position, account, cfg,
                            )  # fmt: skip
                            counts[0] += 1
            if next_open and last_bar:
                _close_all(t, position, account, counts, fills, cfg)
            equity, _ = equity_of(account[A_CASH], account[A_OPEN_LEGS], position, lot)
            equity_curve[t] = equity
            peak = max(peak, equity)
            if not (next_open and last_bar):
                killed, halted_today = _evaluate_risk(
                    equity, peak, day_start_equity, max_drawdown, max_daily_loss, killed,
                    halted_today,
                )  # fmt: skip
        if to_decision and t == last:
            break
        # Bar t from its decision on.
        if next_open:
            if not last_bar:
                any_pending = _decide(t, signals, has_bar, position, pending, pending_side,
                                      blocked, last_signal, allow_short, killed, rejections,
                                      counts, confidence_on, confidence, cfg)  # fmt: skip
        else:
            _decide(t, signals, has_bar, position, pending, pending_side, blocked, last_signal,
                    allow_short, killed, rejections, counts, confidence_on, confidence,
                    cfg)  # fmt: skip
            for leg in range(legs):
                lots = position[leg, P_LOTS]
                if lots == 0.0:
                    continue
                expired = (
                    holding_on and has_bar[t, leg]
                    and t - position[leg, P_ENTRY_BAR] >= max_holding
                )  # fmt: skip
                if pending[leg] == 0 and not expired:
                    continue
                side = 1 if lots > 0 else -1
                if killed or pending[leg] == 0:
                    blocked[leg] = side
                reason = _exit_reason(killed, expired)
                close_position(
                    fills, counts[0], t, leg, close[t, leg], reason, position, account, cfg
                )
                counts[0] += 1
            for leg in range(legs):
                if pending[leg] == 0:
                    continue
                pending[leg] = 0
                side = pending_side[leg]
                if side == 0 or position[leg, P_LOTS] != 0.0 or last_bar:
                    continue
                if sessions_on and session_last[t]:  # no entry at a session's close
                    blocked[leg] = side
                    continue
                entry_atr = (
                    atr_at(atr_stop_loss, t, leg, sl_kind),
                    atr_at(atr_take_profit, t, leg, tp_kind),
                )
                opened = open_position(
                    fills, rejections, counts, t, leg, side, close[t, leg], entry_atr,
                    REJECT_DAILY_LOSS_LIMIT if halted_today else 0, leg_scale[leg], position,
                    account, cfg,
                )  # fmt: skip
                if not opened:
                    blocked[leg] = side
            if last_bar:
                _close_all(t, position, account, counts, fills, cfg)
            equity, _ = equity_of(account[A_CASH], account[A_OPEN_LEGS], position, lot)
            equity_curve[t] = equity
            peak = max(peak, equity)
        t += 1

    account[A_EQUITY] = equity
    account[A_PEAK] = peak
    account[A_DAY] = current_day
    account[A_DAY_START_EQUITY] = day_start_equity
    account[A_HALTED] = 1.0 if halted_today else 0.0
    account[A_KILLED] = 1.0 if killed else 0.0
    account[A_PENDING] = 1.0 if any_pending else 0.0


@njit(cache=True)
def _close_all(
    t: int,
    position: np.ndarray,
    account: np.ndarray,
    counts: np.ndarray,
    fills: np.ndarray,
    cfg: np.ndarray,
) -> None:
    """The end-of-data close: every open position at its leg's latest mark."""
    for leg in range(position.shape[0]):
        if position[leg, P_LOTS] != 0.0:
            close_position(
                fills, counts[0], t, leg, position[leg, P_MARK], REASON_END_OF_DATA, position,
                account, cfg,
            )  # fmt: skip
            counts[0] += 1


@njit(cache=True, inline="always")
def _exit_reason(killed: bool, expired: bool) -> int:
    """Why a position leaves at an order fill: the kill switch, its holding period, its signal."""
    if killed:
        return REASON_KILL_SWITCH
    return REASON_MAX_HOLDING if expired else REASON_SIGNAL


@njit(cache=True)
def _holding_due(t: int, has_bar: np.ndarray, position: np.ndarray, max_holding: float) -> bool:
    """Whether a leg with a bar at t has held its position `max_holding` bars or more."""
    for leg in range(position.shape[0]):
        if (
            has_bar[t, leg]
            and position[leg, P_LOTS] != 0.0
            and t - position[leg, P_ENTRY_BAR] >= max_holding
        ):
            return True
    return False


@njit(cache=True, inline="always")
def _evaluate_risk(
    equity: float,
    peak: float,
    day_start_equity: float,
    max_drawdown: float,
    max_daily_loss: float,
    killed: bool,
    halted_today: bool,
) -> tuple[bool, bool]:
    """(killed, halted_today) after marking `equity` at a close; NaN limits are off."""
    if not killed and not np.isnan(max_drawdown) and equity <= peak * (1.0 - max_drawdown):
        killed = True
    if (
        not halted_today
        and not np.isnan(max_daily_loss)
        and equity <= day_start_equity * (1.0 - max_daily_loss)
    ):
        halted_today = True
    return killed, halted_today


@njit(cache=True, inline="always")
def _decide(
    t: int,
    signals: np.ndarray,
    has_bar: np.ndarray,
    position: np.ndarray,
    pending: np.ndarray,
    pending_side: np.ndarray,
    blocked: np.ndarray,
    last_signal: np.ndarray,
    allow_short: bool,
    killed: bool,
    rejections: np.ndarray,
    counts: np.ndarray,
    confidence_on: bool,
    confidence: np.ndarray,
    cfg: np.ndarray,
) -> bool:
    """Turn each leg's target side at t's close into a pending order (or none); any pending?
    An entry whose confidence is below the minimum is refused here (an exit never is)."""
    any_pending = False
    for leg in range(signals.shape[1]):
        if not has_bar[t, leg]:
            any_pending = any_pending or pending[leg] != 0  # waits for its next bar
            continue
        signal = signals[t, leg]
        if signal == last_signal[leg] and not killed:
            # Same target as at the leg's previous bar: that order has been filled since, or
            # refused or stopped out (the side is then blocked), so nothing is to be sent.
            pending[leg] = 0
            continue
        last_signal[leg] = signal
        lots = position[leg, P_LOTS]
        current = 0 if lots == 0.0 else (1 if lots > 0 else -1)
        target = int(signal)
        if target < 0 and not allow_short:
            target = 0
        if blocked[leg] != NO_BLOCK:
            if target == blocked[leg]:
                target = current
            else:
                blocked[leg] = NO_BLOCK
        if killed and target != 0:
            if current == 0 and target != current:
                record_rejection(rejections, counts[1], t, leg, target, 0.0, REJECT_KILL_SWITCH)
                counts[1] += 1
                blocked[leg] = target
            target = 0
        if confidence_on and target != 0 and target != current:
            refusal = confidence_refusal(confidence[t, leg], cfg)
            if refusal != 0:  # the exit part of a reversal still goes
                record_rejection(rejections, counts[1], t, leg, target, 0.0, refusal)
                counts[1] += 1
                blocked[leg] = target
                target = 0
        pending[leg] = 1 if target != current else 0
        pending_side[leg] = target
        any_pending = any_pending or target != current
    return any_pending

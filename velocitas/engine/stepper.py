"""`Stepper`: one leg of a backtest advanced one bar at a time (the RL environment's engine).

The bar is cut at its decision point, the close, where a strategy (or an agent) picks the target
side:

    reset(start)     bar `start` runs up to its close, flat: equity at its close
    step(target)     the target side is decided at the current bar's close, then the next bar
                     runs up to its close: (equity, fees paid, halted)

Both halves of a bar run through `velocitas.engine.step.run_bars`, the function the backtest loop
(`velocitas.engine.kernel.simulate`) runs every bar through: a stepped run and `run_signals` on the
same
target sides give the same fills and the same equity (`tests/velocitas/engine/test_stepper.py` holds
the two to bit-identical equity and fills). The stepper only owns the arrays and the cut; it
never takes `run_bars`' quiet-bar shortcut (it runs one bar at a time), so that test also holds
the shortcut to the full rules. `run_bars` is inlined into `_advance`: a change to the rules
must touch this file too, or numba's on-disk cache keeps the previous ones (last: the `bridge`
path model and the trades-per-day, open-positions, holding-period, session-close and
confidence rules, issue 14).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from velocitas.domain.bars import BarArrays
from velocitas.engine.alignment import NS_PER_DAY, align
from velocitas.engine.codes import F_COLUMNS, F_FEE, R_COLUMNS
from velocitas.engine.ledger import Ledger, LegLabel, build_ledger
from velocitas.engine.positions import A_KILLED, A_SIZE, P_SIZE
from velocitas.engine.runner import kernel_config, leg_keys, session_grid
from velocitas.engine.spec import BacktestSpec
from velocitas.engine.step import O_SIZE, init_state, run_bars
from velocitas.indicators import atr
from velocitas.jit import njit

__all__ = ["Stepper"]

# Rows of the price stack and of the series stack (each row a `[bar, leg]` array of the one leg),
# columns of the flags. Stacked so that a step passes few arrays: each array argument of a call
# costs its unboxing.
OPEN, HIGH, LOW, CLOSE = range(4)
ATR_STOP_LOSS, ATR_TAKE_PROFIT, ATR_TRAILING, CONFIDENCE = range(4)
HAS_BAR, SESSION_LAST = range(2)
# Float state: the kernel's account, then the leg's position row.
S_POSITION = A_SIZE
S_SIZE = A_SIZE + P_SIZE
# Integer state: the leg's order column, the record counts (fills, rejections), the current bar.
I_COUNTS = O_SIZE
I_BAR = O_SIZE + 2
I_SESSIONS = I_BAR + 1  # 1 when the spec goes flat at session closes
I_SIZE = I_SESSIONS + 1
ROOM = 4  # free record rows guaranteed before every step (a bar records at most 3)


@njit(cache=True)
def _state_views(
    fstate: np.ndarray, istate: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(account, position, orders, counts): views of the stepper's two state vectors."""
    account = fstate[:S_POSITION]
    position = fstate[S_POSITION:S_SIZE].reshape((1, P_SIZE))
    orders = istate[:O_SIZE].reshape((O_SIZE, 1))
    counts = istate[I_COUNTS : I_COUNTS + 2]
    return account, position, orders, counts


@njit(cache=True)
def _restart(
    start: int, day: np.ndarray, cfg: np.ndarray, fstate: np.ndarray, istate: np.ndarray
) -> None:
    account, position, orders, counts = _state_views(fstate, istate)
    init_state(start, day, cfg, account, position, orders, counts)
    istate[I_BAR] = start


@njit(cache=True)
def _advance(
    target: int,
    certainty: float,
    decide: bool,
    prices: np.ndarray,
    series: np.ndarray,
    flags: np.ndarray,
    signals: np.ndarray,
    day: np.ndarray,
    leg_scale: np.ndarray,
    cfg: np.ndarray,
    fstate: np.ndarray,
    istate: np.ndarray,
    fills: np.ndarray,
    rejections: np.ndarray,
    equity_curve: np.ndarray,
    opened_at: np.ndarray,
    leg_keys: np.ndarray,
) -> tuple[float, float, bool, int, int]:
    """From the current bar on to the next decision point (or the end of the data).

    `decide` False: run the current bar up to its close. True: decide `target` (with
    confidence `certainty`, kept where the spec has a minimum confidence) at the current bar's
    close, finish the bar, then run the next bar (if any) up to its close.
    Returns (equity at the close reached, fees paid, halted, fill count, rejection count).
    """
    account, position, orders, counts = _state_views(fstate, istate)
    n = equity_curve.shape[0]
    t = istate[I_BAR]
    first_fill = counts[0]
    confidence = series[CONFIDENCE]
    has_bar = flags[:, HAS_BAR : HAS_BAR + 1]
    session_last = flags[:, SESSION_LAST] if istate[I_SESSIONS] != 0 else flags[:0, SESSION_LAST]
    if decide:  # finish bar t, then run bar t + 1 (if any) up to its decision
        signals[t, 0] = target
        if confidence.shape[0] == n:
            confidence[t, 0] = certainty
        last = min(t + 1, n - 1)
        to_decision = last > t
    else:  # bar t up to its decision
        last = t
        to_decision = True
    run_bars(
        t, last, decide, to_decision, prices[OPEN], prices[HIGH], prices[LOW], prices[CLOSE],
        has_bar, signals, day, series[ATR_STOP_LOSS], series[ATR_TAKE_PROFIT],
        series[ATR_TRAILING], leg_scale, cfg, account, position, orders, counts, fills,
        rejections, equity_curve, opened_at, leg_keys, confidence, session_last,
    )  # fmt: skip
    t = last
    istate[I_BAR] = t
    fees = 0.0
    for k in range(first_fill, counts[0]):
        fees += fills[k, F_FEE]
    return equity_curve[t], fees, account[A_KILLED] != 0.0, counts[0], counts[1]


class Stepper:
    """One leg of `spec` on `bars`, stepped bar by bar through the engine's rules.

    `spec` must have one leg (its weight scales order sizes as in a backtest). Prices must be
    positive and finite (as `run_backtest` requires). Not thread-safe; cheap to `reset`.
    """

    def __init__(self, spec: BacktestSpec, bars: BarArrays) -> None:
        if len(spec.legs) != 1:
            raise ValueError("a Stepper trades exactly one leg")
        n = len(bars)
        if n < 2:
            raise ValueError("a Stepper needs at least two bars")
        self.spec = spec
        self.bars = bars
        self.n = n
        self._cfg = kernel_config(spec)
        # The kernel's `[bar, leg]` arrays for one leg, stacked so a step passes few arrays.
        self._prices = np.empty((4, n, 1))
        for row, series in ((OPEN, bars.open), (HIGH, bars.high), (LOW, bars.low)):
            self._prices[row, :, 0] = series
        self._prices[CLOSE, :, 0] = bars.close
        stops = spec.stops
        levels = (stops.stop_loss, stops.take_profit, stops.trailing_stop)
        uses_atr = any(level is not None and level.kind == "atr" for level in levels)
        # ATRs are read only for ATR stops, the confidence only with a minimum confidence.
        self._confident = spec.risk.min_confidence is not None
        long = uses_atr or self._confident
        self._series = np.full((4, n if long else 1, 1), np.nan)
        self._series[CONFIDENCE] = 1.0
        for row, level in zip((ATR_STOP_LOSS, ATR_TAKE_PROFIT, ATR_TRAILING), levels, strict=True):
            if level is not None and level.kind == "atr":
                self._series[row, :, 0] = atr(bars.high, bars.low, bars.close, level.atr_period)
        self._day = bars.opened_at // NS_PER_DAY
        self._opened_at = np.ascontiguousarray(bars.opened_at, dtype=np.int64)
        self._leg_keys = leg_keys(spec)
        self._flags = np.zeros((n, 2), dtype=np.bool_)
        self._flags[:, HAS_BAR] = True
        session_last = session_grid(spec, align([bars]))
        if len(session_last):
            self._flags[:, SESSION_LAST] = session_last
        self._signals = np.zeros((n, 1), dtype=np.int8)
        self._leg_scale = np.array([float(spec.legs[0].weight)])
        self._equity = np.full(n, np.nan)
        self._fstate = np.zeros(S_SIZE)
        self._istate = np.zeros(I_SIZE, dtype=np.int64)
        self._istate[I_SESSIONS] = 1 if spec.risk.flat_at_session_close else 0
        self._fills = np.empty((64, F_COLUMNS))
        self._rejections = np.empty((16, R_COLUMNS))
        self.index = 0
        """The bar whose close the stepper stands at (read it; `reset` and `step` move it)."""
        self._start = 0
        self._call: Any = _advance

    def _play(
        self, target: int, decide: bool, confidence: float = 1.0
    ) -> tuple[float, float, bool, int, int]:
        result: tuple[float, float, bool, int, int] = self._call(
            target, confidence, decide, self._prices, self._series, self._flags, self._signals,
            self._day, self._leg_scale, self._cfg, self._fstate, self._istate, self._fills,
            self._rejections, self._equity, self._opened_at, self._leg_keys,
        )  # fmt: skip
        if self._call is _advance:
            self._call = _compiled_entry(_advance)
        self.index = int(self._istate[I_BAR])
        # Records never grow inside numba (the arrays are ours): make room between steps.
        if result[3] + ROOM > len(self._fills):
            self._fills = _grown(self._fills)
        if result[4] + ROOM > len(self._rejections):
            self._rejections = _grown(self._rejections)
        return result

    def reset(self, start: int = 0) -> float:
        """Flat with the initial cash; run bar `start` to its close. Returns the equity there."""
        if not 0 <= start < self.n:
            raise ValueError(f"start must lie in [0, {self.n - 1}]")
        # Clear only what the previous episode wrote: a reset costs O(episode), not O(bars).
        touched = slice(self._start, self.index + 1)
        self._equity[touched] = np.nan
        self._signals[touched] = 0
        if self._confident:
            self._series[CONFIDENCE, touched] = 1.0
        self._start = start
        _restart(start, self._day, self._cfg, self._fstate, self._istate)
        return self._play(0, False)[0]

    def step(self, target_side: int, confidence: float = 1.0) -> tuple[float, float, bool]:
        """Target `target_side` (+1/0/−1) at the current close, with `confidence` in [0, 1]
        (read against the spec's `risk.min_confidence`); run the next bar.

        Returns (equity at the next bar's close, fees paid during the step, halted): `halted`
        is true once the drawdown kill switch has fired (the engine flattens and stops trading).
        """
        if self.index >= self.n - 1:
            raise IndexError("the stepper is at the last bar; reset it")
        if confidence != 1.0:  # the default skips the checks: a step costs about a microsecond
            if not 0.0 <= confidence <= 1.0:
                raise ValueError("confidence must lie in [0, 1]")
            confidence = float(confidence)
        equity, fees, halted, _, _ = self._play(int(target_side), True, confidence)
        return equity, fees, halted

    def finish(self, target_side: int = 0) -> float:
        """At the last bar: complete it (in same-close mode the close's own fills and the
        end-of-data exit happen after the decision). Returns the final equity."""
        if self.index != self.n - 1:
            raise IndexError("finish() is for the last bar")
        return self._play(int(target_side), True)[0]

    def ledger(self) -> Ledger:
        """The fills, trades and rejections so far, re-priced in Decimal like a backtest's."""
        spec = self.spec
        leg = spec.legs[0]
        return build_ledger(
            self.fill_records(),
            self.rejection_records(),
            self.bars.opened_at,
            [LegLabel(leg.symbol, leg.strategy.name)],
            initial_cash=spec.initial_cash,
            lot_size=spec.sizing.lot_size,
            fee_rate=spec.fees.rate,
            fee_fixed=spec.fees.fixed,
        )

    @property
    def signals(self) -> npt.NDArray[np.int8]:
        """The target side decided at each bar's close so far (0 elsewhere)."""
        return self._signals[:, 0].copy()

    @property
    def equity(self) -> npt.NDArray[np.float64]:
        """Equity at each bar's close reached so far (NaN elsewhere; in same-close mode the
        current bar's entry is its pre-decision value until the next step)."""
        return self._equity.copy()

    def fill_records(self) -> npt.NDArray[np.float64]:
        """The kernel's fill records so far (`velocitas.engine.codes.F_*` columns)."""
        return self._fills[: self._istate[I_COUNTS]].copy()

    def rejection_records(self) -> npt.NDArray[np.float64]:
        return self._rejections[: self._istate[I_COUNTS + 1]].copy()


def _compiled_entry(dispatcher: Any) -> Any:
    """The compiled function behind a numba dispatcher that has exactly one signature.

    A step passes a dozen arrays whose types never change (the stepper owns them), so the
    dispatcher's per-call type resolution is pure overhead (about half of a step's time).
    Falls back to the dispatcher where numba does not expose its compiled entry point."""
    overloads = getattr(dispatcher, "overloads", {})
    if len(overloads) != 1:
        return dispatcher
    entry = getattr(next(iter(overloads.values())), "entry_point", None)
    return entry if callable(entry) else dispatcher


def _grown(records: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    bigger = np.empty((len(records) * 2, records.shape[1]))
    bigger[: len(records)] = records
    return bigger

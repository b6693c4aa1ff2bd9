"""`StrategyLegs`: a session's strategy legs, run bar by bar through the backtest's own rules.

A session does not re-implement the engine: it holds the arrays `velocitas.engine.runner.
simulate_legs` would build (the legs aligned on one time grid, each leg's target sides, the
ATR stops, the kernel configuration) and the kernel's state, and runs ranges of bars through
`velocitas.engine.step.run_bars` exactly as `velocitas.engine.kernel.simulate` does, only cut
where the session needs to look around (a bar at a finite speed, a batch of bars at `max`).
Running bars a..b then b+1..c is running a..c (the state lives in the arrays), so the fill
records, fees and equity are those of `run_backtest(spec, bars)`, bit for bit
(tests/velocitas/sessions/test_parity.py).

Signals are precomputed with the strategy code a backtest uses (`strategy_signals`): on stored
bars the strategy's answer at bar t depends only on bars up to t, so this is what a bar-by-bar
computation gives; a live feed computes them bar by bar instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from velocitas.calendars import MarketCalendar
from velocitas.domain.bars import BarArrays
from velocitas.engine.alignment import AlignedBars, align
from velocitas.engine.codes import F_COLUMNS, R_COLUMNS, REASON_KILL_SWITCH
from velocitas.engine.positions import A_KILLED, A_OPEN_LEGS, A_SIZE, P_LOTS, P_SIZE, close_position
from velocitas.engine.runner import (
    _NO_DAYS,
    _atr_grid,
    confidence_grid,
    kernel_config,
    leg_keys,
    market_spec,
    select_bars,
    session_grid,
    strategy_decisions,
)
from velocitas.engine.spec import BacktestSpec
from velocitas.engine.step import O_SIZE, init_state, run_bars
from velocitas.jit import njit

__all__ = ["StrategyLegs"]

RECORDS_PER_LEG_BAR = 4  # a bar of a leg records at most an exit, an entry and a stop (+ kill)


@njit(cache=True)
def _run_range(
    first: int,
    last: int,
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
    """Bars first..last, whole, as `kernel.simulate` runs them (run_bars and the ticks' helpers
    are inlined: a change to the rules or the ticks must touch this file too, as it must touch
    kernel.py, or numba's cache keeps the previous ones)."""
    run_bars(
        first, last, False, False, open_, high, low, close, has_bar, signals, day,
        atr_stop_loss, atr_take_profit, atr_trailing, leg_scale, cfg,
        account, position, orders, counts, fills, rejections, equity_curve, opened_at, leg_keys,
        confidence, session_last,
    )  # fmt: skip


class StrategyLegs:
    """The strategy legs of a backtest spec on `bars`, advanced a range of bars at a time.

    `spec` is the session's `backtest_spec()` (or any BacktestSpec); `bars` are keyed by symbol
    and cut to [start, end) here, as `run_backtest` cuts them.
    """

    def __init__(self, spec: BacktestSpec, bars: Mapping[str, BarArrays]) -> None:
        leg_bars = select_bars(spec, bars)
        spec, calendar = market_spec(spec, leg_bars)
        self.spec: BacktestSpec = spec
        self.calendar: MarketCalendar = calendar
        self.leg_bars = leg_bars
        decisions = [
            strategy_decisions(leg, leg_bars[i], field=f"legs[{i}].strategy")
            for i, leg in enumerate(spec.legs)
        ]
        signals = [sides for sides, _ in decisions]
        grid: AlignedBars = align(leg_bars)
        self.grid = grid
        # As `run_backtest`: the confidence is read only with a minimum confidence.
        self._confidence = confidence_grid(spec, leg_bars, [c for _, c in decisions], grid)
        self._session_last = session_grid(spec, grid)
        self.signals = grid.place([np.asarray(s, np.int8) for s in signals], np.int8, carry=False)
        self._day = grid.utc_day if spec.risk.max_daily_loss is not None else _NO_DAYS
        stops = spec.stops
        self._atrs = tuple(
            _atr_grid(level, leg_bars, grid)
            for level in (stops.stop_loss, stops.take_profit, stops.trailing_stop)
        )
        self._leg_scale = np.asarray([float(leg.weight) for leg in spec.legs])
        self.cfg = kernel_config(spec)
        self._leg_keys = leg_keys(spec)
        legs = len(spec.legs)
        self.n = len(grid.opened_at)
        self.account = np.empty(A_SIZE)
        self.position = np.empty((legs, P_SIZE))
        self._orders = np.empty((O_SIZE, legs), dtype=np.int64)
        self._counts = np.zeros(2, dtype=np.int64)
        init_state(0, self._day, self.cfg, self.account, self.position, self._orders, self._counts)
        self.equity = np.full(self.n, np.nan)
        self._fills = np.empty((256, F_COLUMNS))
        self._rejections = np.empty((64, R_COLUMNS))
        self.next_bar = 0
        """The first bar not run yet (bars 0..next_bar-1 are done)."""

    @property
    def fill_count(self) -> int:
        return int(self._counts[0])

    @property
    def rejection_count(self) -> int:
        return int(self._counts[1])

    @property
    def killed(self) -> bool:
        return self.account[A_KILLED] != 0.0

    def run_through(self, last: int) -> None:
        """Run bars next_bar..last (whole bars: stops, marks, risk, the close's decision)."""
        first = self.next_bar
        if not first <= last < self.n:
            raise IndexError(f"bars {first}..{last} are not ahead of the session in [0, {self.n})")
        room = RECORDS_PER_LEG_BAR * self.position.shape[0] * (last - first + 1) + 8
        self._fills = _with_room(self._fills, self.fill_count + room)
        self._rejections = _with_room(self._rejections, self.rejection_count + room)
        g = self.grid
        _run_range(
            first, last, g.open, g.high, g.low, g.close, g.has_bar, self.signals, self._day,
            self._atrs[0], self._atrs[1], self._atrs[2], self._leg_scale, self.cfg,
            self.account, self.position, self._orders, self._counts, self._fills,
            self._rejections, self.equity, g.opened_at, self._leg_keys, self._confidence,
            self._session_last,
        )  # fmt: skip
        self.next_bar = last + 1

    def flatten(self) -> None:
        """The session's kill: close every open leg at the next bar's open (the first tick
        after the last close), record the fills as the kill switch's, and allow no more
        entries. The session then halts."""
        t = min(self.next_bar, self.n - 1)
        self._fills = _with_room(self._fills, self.fill_count + self.position.shape[0] + 1)
        for leg in range(self.position.shape[0]):
            if self.position[leg, P_LOTS] == 0.0:
                continue
            close_position(
                self._fills, self.fill_count, t, leg, float(self.grid.open[t, leg]),
                REASON_KILL_SWITCH, self.position, self.account, self.cfg,
            )  # fmt: skip
            self._counts[0] += 1
        self.account[A_KILLED] = 1.0
        if self.account[A_OPEN_LEGS] < 0.5:
            self.account[A_OPEN_LEGS] = 0.0

    def fill_records(self, start: int = 0) -> npt.NDArray[np.float64]:
        """The kernel's fill records from record `start` on (`codes.F_*` columns)."""
        return self._fills[start : self.fill_count]

    def rejection_records(self, start: int = 0) -> npt.NDArray[np.float64]:
        return self._rejections[start : self.rejection_count]


def _with_room(records: npt.NDArray[np.float64], needed: int) -> npt.NDArray[np.float64]:
    """`records`, or a copy with at least `needed` rows (the kernel never grows them)."""
    if needed <= len(records):
        return records
    bigger = np.empty((max(needed, 2 * len(records)), records.shape[1]))
    bigger[: len(records)] = records
    return bigger

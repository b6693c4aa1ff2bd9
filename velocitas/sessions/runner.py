"""`SessionRunner`: a session's market, strategy legs and manual desk, as events (pure logic).

No database, no Redis, no clock: the runner turns "run bars up to t" (and "these manual orders
arrived", "kill") into the journal's events; `trader.run.run_session` stores and publishes them
and paces the replay. Given the same spec, bars and manual orders it gives the same events, which
is what lets a session resume from its journal by running again up to where the journal ends.

The events of a bar, in order: `bar.closed` per symbol, a `signal` for each leg whose target
side changed at the close (confidence 1 for rule strategies; the side stands until the leg's
next `signal`), then for each engine fill record `order.filled`, `fill` and
`position.changed` (the order id is uuid5(session id, "fill:<n>"), n the fill's number in the
run), and `risk.rejected` per engine rejection; `risk.killed` once when the drawdown kill
switch fires. At speed `max` a run of consecutive quiet bars (no fill, no rejection, no signal
change before its last bar) is one `bars.closed` per symbol instead of a `bar.closed` per bar;
runs end at every multiple of RUN_BLOCK bars. Fills carry the instant of their bar's close, or
of its open for next-open fills (the engine records the bar of a fill, not its tick).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, localcontext
from typing import cast

import numpy as np
import numpy.typing as npt

from velocitas.db.journal_copy import EncodedEvent
from velocitas.domain.bars import BarArrays, from_epoch_ns
from velocitas.domain.session_events import (
    CONTRACT_VERSION,
    BarClosed,
    BarsClosed,
    LegPnl,
    OrderEvent,
    PnlSnapshot,
    PositionChanged,
    RiskEvent,
    SessionEventModel,
    SignalEvent,
    TradeEvent,
)
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.codes import (
    F_BAR,
    F_LEG,
    F_LOTS,
    F_PRICE,
    F_REASON,
    F_SIDE,
    FILL_REASONS,
    R_BAR,
    R_LEG,
    R_REASON,
    REASON_ENTRY,
    REASON_KILL_SWITCH,
    REASON_SIGNAL,
    REJECT_REASONS,
)
from velocitas.engine.ledger import price_decimal
from velocitas.engine.positions import A_HALTED, P_LOTS
from velocitas.engine.ticks import series_ticks, ticks_per_bar
from velocitas.sessions.books import EXACT, LegBook
from velocitas.sessions.broker import Broker, PaperBroker
from velocitas.sessions.encoding import RangeText, bars_closed_json, encodable, signal_json
from velocitas.sessions.guard import Account, RiskGuard
from velocitas.sessions.legs import StrategyLegs
from velocitas.sessions.oms import ManualOrder, Oms
from velocitas.sessions.spec import SessionSpec

__all__ = ["RUN_BLOCK", "SessionRunner", "encoded", "strategy_order_id"]

RUN_BLOCK = 1024
"""At speed max a `bars.closed` run never crosses a multiple of this many grid bars, so the
journal's runs do not depend on how the bars were cut into batches (a resumed session's
journal equals an uninterrupted one)."""


_NO_SIDE = 2  # before a leg's first signal: any side is a change


def encoded(event: SessionEventModel) -> EncodedEvent:
    return EncodedEvent(event.type, event.v, event.at, event.model_dump_json())


def strategy_order_id(session_id: uuid.UUID, fill_no: int) -> uuid.UUID:
    """The id of the strategy order behind engine fill `fill_no` (1-based): the same on every
    run of the session, so a resumed session never inserts an order twice."""
    return uuid.uuid5(session_id, f"fill:{fill_no}")


class SessionRunner:
    """One session's replay state: the engine's legs, their Decimal books, the manual OMS."""

    def __init__(
        self,
        session_id: uuid.UUID,
        spec: SessionSpec,
        bars: Mapping[str, BarArrays],
        *,
        broker: Broker | None = None,
        oms: Oms | None = None,
    ) -> None:
        self.session_id = session_id
        self.spec = spec
        self.legs = StrategyLegs(spec.backtest_spec(), bars)
        bt = self.legs.spec
        self.lot = bt.sizing.lot_size
        self.fee_rate, self.fee_fixed = bt.fees.rate, bt.fees.fixed
        self.books = [LegBook() for _ in bt.legs]
        self.cash = bt.initial_cash
        self.oms = oms or Oms(
            broker
            or PaperBroker(
                fee_rate=self.fee_rate, fee_fixed=self.fee_fixed, slippage_bps=bt.slippage_bps
            ),
            RiskGuard(
                fee_rate=self.fee_rate,
                fee_fixed=self.fee_fixed,
                slippage_bps=bt.slippage_bps,
                max_position=bt.risk.max_position,
            ),
        )
        grid = self.legs.grid
        self.opened_ns = grid.opened_at
        self.close_ns = Timeframe.parse(bt.timeframe).add_ns(grid.opened_at, 1)
        self.symbols = list(dict.fromkeys(leg.symbol for leg in bt.legs))
        self._symbol_leg = {s: next(i for i, leg in enumerate(bt.legs) if leg.symbol == s)
                            for s in self.symbols}  # fmt: skip
        self.ticks_per_bar = ticks_per_bar(bt.timeframe, spec.ticks_per_bar)
        self._volume = grid.place([b.volume for b in self.legs.leg_bars], np.float64, carry=False)
        self._next_open = bt.fill == "next_open"
        self._fills_seen = 0
        self._rejections_seen = 0
        self._kill_seen = False
        self.compact = spec.speed == "max"
        self._sides = [_NO_SIDE] * len(bt.legs)  # last journaled target side per leg
        self.clock: datetime | None = None

    @property
    def n(self) -> int:
        return self.legs.n

    @property
    def next_bar(self) -> int:
        return self.legs.next_bar

    @property
    def done(self) -> bool:
        return self.legs.next_bar >= self.legs.n

    def bar_ticks(self, t: int, symbol: str) -> npt.NDArray[np.float64]:
        """The ticks of grid bar `t` of `symbol` (those the engine's `bridge` model walks)."""
        g, leg = self.legs.grid, self._symbol_leg[symbol]
        return series_ticks(
            self.spec.seed, symbol, g.opened_at[t : t + 1], g.open[t : t + 1, leg],
            g.high[t : t + 1, leg], g.low[t : t + 1, leg], g.close[t : t + 1, leg],
            self.ticks_per_bar,
        )[0]  # fmt: skip

    def tick_instant(self, t: int, k: int) -> int:
        """Epoch ns of tick k of bar t: opened + k x bar length // ticks per bar."""
        bar_ns = int(self.close_ns[t] - self.opened_ns[t])
        return int(self.opened_ns[t]) + k * bar_ns // self.ticks_per_bar

    def step(
        self, last: int, orders: Sequence[ManualOrder] = (), at_tick: int = 0
    ) -> list[SessionEventModel]:
        """Run bars next_bar..last; `orders` arrive at tick `at_tick` of bar next_bar."""
        first = self.next_bar
        events: list[SessionEventModel] = []
        if not orders and not self.oms.busy:
            self.legs.run_through(last)
            events += self._model_events(first, last)
            return events
        for t in range(first, last + 1):
            events += self._manual_bar(t, orders if t == first else (), at_tick)
            self.legs.run_through(t)
            events += self._model_events(t, t)
        return events

    def step_encoded(self, last: int) -> list[EncodedEvent]:
        """`step(last)` with no manual order, as journal rows: quiet runs' `bars.closed` and
        `signal` written straight to JSON (`velocitas.sessions.encoding`), other events
        through their models. The rows are those `step` gives, encoded."""
        if self.oms.busy:
            return [encoded(e) for e in self.step(last)]
        first = self.next_bar
        self.legs.run_through(last)
        return [e if isinstance(e, EncodedEvent) else encoded(e)
                for e in self._engine_events(first, last, encode=True)]  # fmt: skip

    def kill(self, reason: str) -> list[SessionEventModel]:
        """Flatten every leg and the manual book at the next tick, cancel orders, halt."""
        t = min(self.next_bar, self.n - 1)
        at = from_epoch_ns(int(self.opened_ns[t]))
        start = self.legs.fill_count
        self.legs.flatten()
        events: list[SessionEventModel] = []
        events += self._fill_events(self.legs.fill_records(start), start, at_override=at)
        self._fills_seen = self.legs.fill_count
        events += self.oms.cancel_all("session killed", at)
        opens = {s: float(self.legs.grid.open[t, self._symbol_leg[s]]) for s in self.symbols}
        events += self.oms.flatten(opens, at)
        events.append(RiskEvent(type="risk.killed", rule="manual_kill", reason=reason, at=at))
        self._kill_seen = True
        return events

    def account(self) -> Account:
        """Equity and available funds of the one account (legs and manual book together)."""
        with localcontext(EXACT):
            values = [b.value() for b in self.books] + [b.value() for b in self.oms.books.values()]
            equity = self.cash + self.oms.cash + sum(values, Decimal(0))
            available = equity - sum((abs(v) for v in values), Decimal(0))
        return Account(
            equity=equity,
            available=available,
            halted_today=self.legs.account[A_HALTED] != 0.0,
            killed=self.legs.killed,
        )

    def pnl(self) -> PnlSnapshot:
        """Realised and unrealised P&L per leg and for the manual book, cash and equity."""
        at = self.clock or from_epoch_ns(int(self.opened_ns[0]))
        bt = self.legs.spec
        rows = [
            LegPnl(leg=i, symbol=leg.symbol, strategy=leg.strategy.name,
                   realised=self.books[i].realised, unrealised=self.books[i].unrealised(), at=at)
            for i, leg in enumerate(bt.legs)
        ] + [
            LegPnl(symbol=s, realised=b.realised, unrealised=b.unrealised(), at=at)
            for s, b in sorted(self.oms.books.items())
        ]  # fmt: skip
        with localcontext(EXACT):
            realised = sum((r.realised for r in rows), Decimal(0))
            unrealised = sum((r.unrealised for r in rows), Decimal(0))
            account = self.account()
        return PnlSnapshot(
            legs=rows, realised=realised, unrealised=unrealised,
            cash=self.cash + self.oms.cash, equity=account.equity, at=at,
        )  # fmt: skip

    # --- internals --------------------------------------------------------------------------

    def _manual_bar(
        self, t: int, orders: Sequence[ManualOrder], at_tick: int = 0
    ) -> list[SessionEventModel]:
        """The manual desk along bar t's ticks: fills and protective exits tick by tick, new
        `orders` entering at tick `at_tick` (guarded there, then offered from that tick on)."""
        events: list[SessionEventModel] = []
        ticks = {s: self.bar_ticks(t, s) for s in self.symbols}
        for k in range(self.ticks_per_bar):
            if k == at_tick and orders:
                events += self._submit(orders, ticks, t, k)
            elif not self.oms.busy and (k > at_tick or not orders):
                break
            at = from_epoch_ns(self.tick_instant(t, k))
            for symbol, prices in ticks.items():
                events += self.oms.on_tick(symbol, float(prices[k]), at)
        return events

    def _submit(
        self, orders: Sequence[ManualOrder], ticks: dict[str, np.ndarray], t: int, k: int
    ) -> list[SessionEventModel]:
        at = from_epoch_ns(self.tick_instant(t, k))
        events: list[SessionEventModel] = []
        for order in orders:
            if order.symbol not in ticks:
                events.append(order.event("order.rejected", at, "symbol not in the session"))
                continue
            events += self.oms.submit(order, float(ticks[order.symbol][k]), self.account(), at)
        return events

    def tick_of(self, t: int, at_us: int) -> int:
        """The tick of bar t printing at `at_us` (epoch microseconds), as journaled."""
        for k in range(self.ticks_per_bar):
            if self.tick_instant(t, k) // 1000 == at_us:
                return k
        raise ValueError(f"no tick of bar {t} prints at {at_us} us")

    def _model_events(self, first: int, last: int) -> list[SessionEventModel]:
        return cast("list[SessionEventModel]", self._engine_events(first, last))

    def _engine_events(
        self, first: int, last: int, *, encode: bool = False
    ) -> list[SessionEventModel | EncodedEvent]:
        events: list[SessionEventModel | EncodedEvent] = []
        legs, grid = self.legs, self.legs.grid
        fills = legs.fill_records(self._fills_seen)
        rejections = legs.rejection_records(self._rejections_seen)
        f_lo = np.searchsorted(fills[:, F_BAR], np.arange(first, last + 2), side="left")
        r_lo = np.searchsorted(rejections[:, R_BAR], np.arange(first, last + 2), side="left")
        busy = (np.diff(f_lo) != 0) | (np.diff(r_lo) != 0)
        changed = self._signal_changes(first, last)
        text = self._range_text(first, last) if encode else None
        if not self.compact:
            for t in range(first, last + 1):
                events += self._bar_events(t, first, changed, fills, f_lo, rejections, r_lo, text)
        else:
            # Bars that end a quiet run: busy ones (journaled one by one), a signal change
            # (the run ends with the bar, the signal follows) and the end of a RUN_BLOCK
            # (so the runs are the same however the range is cut into calls).
            ends = busy | changed.any(axis=1)
            ends |= (np.arange(first, last + 1) + 1) % RUN_BLOCK == 0
            run_start = first
            for t in (np.flatnonzero(ends) + first).tolist():
                if busy[t - first]:
                    events += self._quiet_run(run_start, t, first, text)
                    events += self._bar_events(
                        t, first, changed, fills, f_lo, rejections, r_lo, text
                    )
                else:
                    events += self._quiet_run(run_start, t + 1, first, text)
                    events += self._signals(t, first, changed, text)
                run_start = t + 1
            events += self._quiet_run(run_start, last + 1, first, text)
        self.clock = from_epoch_ns(int(self.close_ns[last]))
        self._fills_seen = legs.fill_count
        self._rejections_seen = legs.rejection_count
        for i in range(len(self.books)):  # marks for the P&L: each leg's latest close
            if legs.position[i, P_LOTS] != 0.0:
                self.books[i].mark = price_decimal(float(grid.close[last, i]))
        if legs.killed and not self._kill_seen:
            self._kill_seen = True
            events.append(RiskEvent(
                type="risk.killed", rule="max_drawdown",
                reason=f"drawdown kill switch: equity fell {legs.spec.risk.max_drawdown} "
                "below its peak",
                at=from_epoch_ns(int(self.close_ns[last])),
            ))  # fmt: skip
            # The manual book goes too, at the next tick (the next bar's open).
            t = min(last + 1, self.n - 1)
            at = from_epoch_ns(int(self.opened_ns[t]))
            opens = {s: float(grid.open[t, self._symbol_leg[s]]) for s in self.symbols}
            events += self.oms.cancel_all("drawdown kill switch", at)
            events += self.oms.flatten(opens, at)
        return events

    def _signal_changes(self, first: int, last: int) -> npt.NDArray[np.bool_]:
        """[bar, leg]: the leg has a bar and its target side differs from the last journaled
        one (a `signal` is journaled then only). Moves the last sides to the range's end."""
        rows = slice(first, last + 1)
        has_bar, signals = self.legs.grid.has_bar[rows], self.legs.signals[rows]
        changed = np.zeros(has_bar.shape, dtype=np.bool_)
        for i in range(has_bar.shape[1]):
            at = np.flatnonzero(has_bar[:, i])
            if not len(at):
                continue
            sides = signals[at, i].astype(np.int64)
            previous = np.concatenate(([self._sides[i]], sides[:-1]))
            changed[at[sides != previous], i] = True
            self._sides[i] = int(sides[-1])
        return changed

    def _range_text(self, first: int, last: int) -> RangeText | None:
        g, rows = self.legs.grid, slice(first, last + 1)
        ohlcv = np.stack(
            [g.open[rows], g.high[rows], g.low[rows], g.close[rows], self._volume[rows]]
        )
        if not encodable(ohlcv[:, g.has_bar[rows]], instants=self.opened_ns[rows]):
            return None
        columns = [self._symbol_leg[s] for s in self.symbols]
        return RangeText(self.opened_ns[rows], self.close_ns[rows], ohlcv, columns)

    def _quiet_run(
        self, a: int, b: int, first: int, text: RangeText | None
    ) -> list[SessionEventModel | EncodedEvent]:
        """The `bars.closed` events of quiet bars a..b-1, one per symbol having bars there."""
        events: list[SessionEventModel | EncodedEvent] = []
        if a >= b:
            return events
        g, timeframe = self.legs.grid, self.legs.spec.timeframe
        for symbol in self.symbols:
            column = self._symbol_leg[symbol]
            present = g.has_bar[a:b, column]
            rows: slice | list[int]
            if present.all():
                rows = slice(a - first, b - first)
            else:
                rows = (np.flatnonzero(present) + (a - first)).tolist()
                if not rows:
                    continue
            if text is not None:
                at, json = bars_closed_json(text, symbol, timeframe, column, rows)
                events.append(EncodedEvent("bars.closed", CONTRACT_VERSION, at, json))
                continue
            ts = range(a, b) if isinstance(rows, slice) else [first + r for r in rows]
            price = [price_decimal(float(x)) for x in g.open[list(ts), column]]
            events.append(BarsClosed(
                symbol=symbol, timeframe=timeframe,
                opened_at=[from_epoch_ns(int(self.opened_ns[t])) for t in ts], open=price,
                high=[price_decimal(float(g.high[t, column])) for t in ts],
                low=[price_decimal(float(g.low[t, column])) for t in ts],
                close=[price_decimal(float(g.close[t, column])) for t in ts],
                volume=[price_decimal(float(self._volume[t, column])) for t in ts],
                at=from_epoch_ns(int(self.close_ns[list(ts)[-1]])),
            ))  # fmt: skip
        return events

    def _signals(
        self, t: int, first: int, changed: npt.NDArray[np.bool_], text: RangeText | None
    ) -> list[SessionEventModel | EncodedEvent]:
        """The `signal` of each leg whose target side changed at bar t."""
        events: list[SessionEventModel | EncodedEvent] = []
        for i in np.flatnonzero(changed[t - first]).tolist():
            leg = self.legs.spec.legs[i]
            side = int(self.legs.signals[t, i])
            if text is not None:
                at = text.closed(t - first)
                json = signal_json(i, leg.symbol, leg.strategy.name, side, at)
                events.append(EncodedEvent("signal", CONTRACT_VERSION, at[1:-1], json))
                continue
            events.append(SignalEvent(
                leg=i, symbol=leg.symbol, strategy=leg.strategy.name, side=side,
                confidence=Decimal(1), at=from_epoch_ns(int(self.close_ns[t])),
            ))  # fmt: skip
        return events

    def _bar_events(
        self,
        t: int,
        first: int,
        changed: npt.NDArray[np.bool_],
        fills: np.ndarray,
        f_lo: np.ndarray,
        rejections: np.ndarray,
        r_lo: np.ndarray,
        text: RangeText | None,
    ) -> list[SessionEventModel | EncodedEvent]:
        """Bar t's events one by one: `bar.closed` per symbol, changed signals, fills,
        rejections."""
        events: list[SessionEventModel | EncodedEvent] = []
        grid = self.legs.grid
        closed_at = from_epoch_ns(int(self.close_ns[t]))
        opened_at = from_epoch_ns(int(self.opened_ns[t]))
        for symbol in self.symbols:
            leg = self._symbol_leg[symbol]
            if grid.has_bar[t, leg]:
                events.append(self._bar_closed(t, symbol, leg, opened_at, closed_at))
        events += self._signals(t, first, changed, text)
        a, b = int(f_lo[t - first]), int(f_lo[t - first + 1])
        events += self._fill_events(fills[a:b], self._fills_seen + a)
        a, b = int(r_lo[t - first]), int(r_lo[t - first + 1])
        for row in rejections[a:b].tolist():
            leg, rule = int(row[R_LEG]), REJECT_REASONS[int(row[R_REASON])]
            events.append(RiskEvent(
                type="risk.rejected", rule=rule,
                reason=f"engine refused leg {leg}'s entry: {rule}",
                leg=leg, at=closed_at,
            ))  # fmt: skip
        return events

    def _bar_closed(
        self, t: int, symbol: str, leg: int, opened_at: datetime, closed_at: datetime
    ) -> BarClosed:
        g = self.legs.grid
        return BarClosed(
            symbol=symbol, timeframe=self.legs.spec.timeframe, opened_at=opened_at,
            open=price_decimal(float(g.open[t, leg])), high=price_decimal(float(g.high[t, leg])),
            low=price_decimal(float(g.low[t, leg])), close=price_decimal(float(g.close[t, leg])),
            volume=price_decimal(float(self._volume[t, leg])), at=closed_at,
        )  # fmt: skip

    def _fill_events(
        self, records: np.ndarray, start: int, at_override: datetime | None = None
    ) -> list[SessionEventModel]:
        events: list[SessionEventModel] = []
        bt = self.legs.spec
        for offset, row in enumerate(records.tolist()):
            fill_no = start + offset + 1
            leg, t, reason = int(row[F_LEG]), int(row[F_BAR]), int(row[F_REASON])
            at_open = self._next_open and reason in (
                REASON_ENTRY,
                REASON_SIGNAL,
                REASON_KILL_SWITCH,
            )
            at = at_override or from_epoch_ns(
                int(self.opened_ns[t] if at_open else self.close_ns[t])
            )
            buy = row[F_SIDE] > 0
            with localcontext(EXACT):
                quantity = self.lot * int(row[F_LOTS])
                price = price_decimal(row[F_PRICE])
                fee = quantity * price * self.fee_rate + self.fee_fixed
            book = self.books[leg]
            self.cash += book.apply(buy, quantity, price, fee)
            symbol = bt.legs[leg].symbol
            order_id = strategy_order_id(self.session_id, fill_no)
            side = "buy" if buy else "sell"
            events += [
                OrderEvent(
                    type="order.filled", order_id=order_id, origin="strategy", leg=leg,
                    symbol=symbol, side=side, order_type="market", quantity=quantity, at=at,
                ),
                TradeEvent(
                    fill_no=fill_no, order_id=order_id, leg=leg, symbol=symbol, side=side,
                    quantity=quantity, price=price, fee=fee, reason=FILL_REASONS[reason], at=at,
                ),
                PositionChanged(
                    leg=leg, symbol=symbol, side=book.side, quantity=abs(book.quantity),
                    average_price=book.average_price if book.quantity else None,
                    realised_pnl=book.realised, unrealised_pnl=book.unrealised(), at=at,
                ),
            ]  # fmt: skip
        return events

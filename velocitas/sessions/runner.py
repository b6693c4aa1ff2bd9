"""`SessionRunner`: a session's market, strategy legs and manual desk, as events (pure logic).

No database, no Redis, no clock: the runner turns "run bars up to t" (and "these manual orders
arrived", "kill") into the journal's events; `trader.run.run_session` stores and publishes them
and paces the replay. Given the same spec, bars and manual orders it gives the same events, which
is what lets a session resume from its journal by running again up to where the journal ends.

The events of a bar, in order: `bar.closed` per symbol, `signal` per leg (the target side at
the close, confidence 1 for rule strategies), then for each engine fill record `order.filled`,
`fill` and `position.changed` (the order id is uuid5(session id, "fill:<n>"), n the fill's
number in the run), and `risk.rejected` per engine rejection; `risk.killed` once when the
drawdown kill switch fires. Fills carry the instant of their bar's close, or of its open for
next-open fills (the engine records the bar of a fill, not its tick).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, localcontext

import numpy as np
import numpy.typing as npt

from velocitas.domain.bars import BarArrays, from_epoch_ns
from velocitas.domain.session_events import (
    BarClosed,
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
from velocitas.sessions.guard import Account, RiskGuard
from velocitas.sessions.legs import StrategyLegs
from velocitas.sessions.oms import ManualOrder, Oms
from velocitas.sessions.spec import SessionSpec

__all__ = ["SessionRunner", "strategy_order_id"]


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
        self._next_open = bt.fill == "next_open"
        self._fills_seen = 0
        self._rejections_seen = 0
        self._kill_seen = False
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

    def step(self, last: int, orders: Sequence[ManualOrder] = ()) -> list[SessionEventModel]:
        """Run bars next_bar..last; `orders` arrive at the first tick of bar next_bar."""
        first = self.next_bar
        events: list[SessionEventModel] = []
        if not orders and not self.oms.busy:
            self.legs.run_through(last)
            events += self._engine_events(first, last)
            return events
        for t in range(first, last + 1):
            events += self._manual_bar(t, orders if t == first else ())
            self.legs.run_through(t)
            events += self._engine_events(t, t)
        return events

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

    def _manual_bar(self, t: int, orders: Sequence[ManualOrder]) -> list[SessionEventModel]:
        """The manual desk along bar t's ticks: new orders at its first tick, then fills and
        protective exits tick by tick."""
        events: list[SessionEventModel] = []
        ticks = {s: self.bar_ticks(t, s) for s in self.symbols}
        at0 = from_epoch_ns(self.tick_instant(t, 0))
        for order in orders:
            if order.symbol not in ticks:
                events.append(order.event("order.rejected", at0, "symbol not in the session"))
                continue
            events += self.oms.submit(order, float(ticks[order.symbol][0]), self.account(), at0)
        if not self.oms.busy:
            return events
        for k in range(self.ticks_per_bar):
            at = None
            for symbol, prices in ticks.items():
                if not self.oms.busy:
                    return events
                at = at or from_epoch_ns(self.tick_instant(t, k))
                events += self.oms.on_tick(symbol, float(prices[k]), at)
        return events

    def _engine_events(self, first: int, last: int) -> list[SessionEventModel]:
        events: list[SessionEventModel] = []
        legs, grid = self.legs, self.legs.grid
        bt = legs.spec
        fills = legs.fill_records(self._fills_seen)
        rejections = legs.rejection_records(self._rejections_seen)
        fill_bars = fills[:, F_BAR].astype(np.int64)
        rejection_bars = rejections[:, R_BAR].astype(np.int64)
        f_lo = np.searchsorted(fill_bars, np.arange(first, last + 2), side="left")
        r_lo = np.searchsorted(rejection_bars, np.arange(first, last + 2), side="left")
        for t in range(first, last + 1):
            closed_at = from_epoch_ns(int(self.close_ns[t]))
            opened_at = from_epoch_ns(int(self.opened_ns[t]))
            for symbol in self.symbols:
                leg = self._symbol_leg[symbol]
                if not grid.has_bar[t, leg]:
                    continue
                events.append(self._bar_closed(t, symbol, leg, opened_at, closed_at))
            for i, spec_leg in enumerate(bt.legs):
                if grid.has_bar[t, i]:
                    side = int(legs.signals[t, i])
                    events.append(SignalEvent(
                        leg=i, symbol=spec_leg.symbol, strategy=spec_leg.strategy.name,
                        side=side, confidence=Decimal(1), at=closed_at,
                    ))  # fmt: skip
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
            self.clock = closed_at
        self._fills_seen = legs.fill_count
        self._rejections_seen = legs.rejection_count
        for i in range(len(self.books)):  # marks for the P&L: each leg's latest close
            if legs.position[i, P_LOTS] != 0.0:
                self.books[i].mark = price_decimal(float(grid.close[last, i]))
        if legs.killed and not self._kill_seen:
            self._kill_seen = True
            events.append(RiskEvent(
                type="risk.killed", rule="max_drawdown",
                reason=f"drawdown kill switch: equity fell {bt.risk.max_drawdown} below its peak",
                at=from_epoch_ns(int(self.close_ns[last])),
            ))  # fmt: skip
        return events

    def _bar_closed(
        self, t: int, symbol: str, leg: int, opened_at: datetime, closed_at: datetime
    ) -> BarClosed:
        g = self.legs.grid
        bars = self.legs.leg_bars[leg]
        row = int(np.searchsorted(bars.opened_at, g.opened_at[t]))
        return BarClosed(
            symbol=symbol, timeframe=self.legs.spec.timeframe, opened_at=opened_at,
            open=price_decimal(float(g.open[t, leg])), high=price_decimal(float(g.high[t, leg])),
            low=price_decimal(float(g.low[t, leg])), close=price_decimal(float(g.close[t, leg])),
            volume=price_decimal(float(bars.volume[row])), at=closed_at,
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

"""`run_session`: play one trading session from where its journal ends to a state it stops in.

The loop: read the session's state (the gateway writes pause/stop/kill there), pick up new
manual orders, run the next bar (a finite speed: its ticks first, published in batches and paced
by the feed's clock) or the next batch of bars (`speed="max"`), and journal what happened with
`append_events`, moving `clock` and `bars_done` in the same transaction; publish after the
commit. A `pnl` snapshot is journaled at most once a wall second, and at the end.

Resuming: the runner is deterministic in the spec, the bars and the manual orders, so a session
picked up after its trader died runs again, silently, over the `bars_done` bars its journal
already holds (manual orders enter at the bars their `order.accepted`/`order.rejected` events
name), then appends from there: the same final fills as an uninterrupted run, nothing twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import psycopg
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from trader.polls import Look, SharedPolls, new_orders_waiting
from velocitas.db.journal import JournaledEvent, append_events
from velocitas.db.journal_copy import EncodedEvent, append_encoded
from velocitas.db.leases import LeaseLost
from velocitas.db.models.sessions import SessionJournalEntry, SessionOrder, TradingSession
from velocitas.domain.bars import to_epoch_ns
from velocitas.domain.session_events import (
    OrderEvent,
    SessionEvent,
    SessionEventModel,
    SessionState,
    TradeEvent,
    parse_session_event,
)
from velocitas.engine.ledger import price_decimal
from velocitas.sessions.feed import Feed, ReplayFeed
from velocitas.sessions.oms import ManualOrder
from velocitas.sessions.publisher import NullPublisher, SessionPublisher
from velocitas.sessions.runner import RUN_BLOCK, SessionRunner, encoded
from velocitas.sessions.spec import SessionSpec

__all__ = ["MAX_SPEED_BATCH_BARS", "run_session", "share_polls"]

MAX_SPEED_BATCH_BARS = 16_384
"""At speed max, bars journaled per transaction (state is re-read between batches)."""
MAX_SPEED_BATCH_S = 0.5
STEP_BLOCKS = 4
"""At speed max the runner steps STEP_BLOCKS x RUN_BLOCK bars at a time (its numpy encoding
pays per call)."""
_ORDER_ROWS = frozenset({"order.filled", "fill"})
PNL_EVERY_S = 1.0

_shared: SharedPolls | None = None


def share_polls(sessions: sessionmaker[Session], interval_s: float = 0.05) -> None:
    """Let the sessions this process runs look at their rows through one `SharedPolls` (a
    trader with many sessions calls it once at start; without it each session queries)."""
    global _shared
    _shared = SharedPolls(sessions, interval_s)


def run_session(
    session_id: uuid.UUID,
    sessions: sessionmaker[Session],
    publisher: SessionPublisher,
    *,
    keep_going: Callable[[], bool],
    feed: Feed | None = None,
) -> SessionState:
    """Run `session_id` until it finishes, fails, is paused, stopped or killed, or `keep_going`
    turns False (a lost lease, a shutdown: returns at once, the state as it stands). Raises
    the database's connection errors when PostgreSQL is unreachable, and `LeaseLost` when
    another trader took the session over (the session is not failed: run it again once the
    database is back, it resumes from its journal)."""
    with sessions() as db:
        row = db.get(TradingSession, session_id)
        if row is None:
            raise LookupError(f"no trading session {session_id}")
        state = SessionState(row.state)
        spec = SessionSpec.model_validate(row.spec)
        bars_done = row.bars_done
    if state is not SessionState.RUNNING and state is not SessionState.KILLED:
        return state
    if state is SessionState.KILLED and _kill_journaled(session_id, sessions):
        return state
    try:
        feed = feed or ReplayFeed.for_spec(spec)
        runner = SessionRunner(session_id, spec, feed.bars())
        _catch_up(runner, sessions, bars_done)
        watching = _shared.watching(session_id) if _shared else contextlib.nullcontext()
        with watching:
            return _Loop(runner, feed, sessions, publisher, keep_going).run()
    except (OperationalError, InterfaceError, psycopg.OperationalError, LeaseLost):
        # PostgreSQL unreachable, or another trader holds the session now: not the session's
        # fault. Nothing half-written survives (the journal and the row commit together), so
        # the caller retries later (or lets go) and the session resumes from its journal
        # exactly; the caller decides how to say so (state paused, reason).
        raise
    except Exception as exc:  # any other error fails the session, with its reason
        return _fail(session_id, sessions, publisher, f"{type(exc).__name__}: {exc}")


def _kill_journaled(session_id: uuid.UUID, sessions: sessionmaker[Session]) -> bool:
    """True once the trader has flattened a killed session (its `risk.killed` is journaled)."""
    with sessions() as db:
        payloads = db.execute(
            select(SessionJournalEntry.payload).where(
                SessionJournalEntry.session_id == session_id,
                SessionJournalEntry.type == "risk.killed",
            )
        ).scalars()
        return any(p.get("rule") == "manual_kill" for p in payloads)


def _catch_up(runner: SessionRunner, sessions: sessionmaker[Session], bars_done: int) -> None:
    """Rebuild the runner's state over the bars the journal already holds (nothing appended)."""
    if bars_done == 0:
        return
    by_bar: dict[int, tuple[int, list[ManualOrder]]] = {}
    with sessions() as db:
        rows = db.execute(
            select(SessionJournalEntry.payload)
            .where(
                SessionJournalEntry.session_id == runner.session_id,
                SessionJournalEntry.type.in_(("order.accepted", "order.rejected")),
            )
            .order_by(SessionJournalEntry.seq)
        ).scalars()
        for payload in rows:
            if payload.get("origin") != "manual":
                continue
            event = OrderEvent.model_validate(payload)
            at_ns = to_epoch_ns(event.at)
            t = int(np.searchsorted(runner.opened_ns, at_ns, side="right")) - 1
            tick = runner.tick_of(t, at_ns // 1000)
            by_bar.setdefault(t, (tick, []))[1].append(_manual(event))
    t = 0
    for bar in sorted(by_bar):
        if bar >= bars_done:
            break
        if bar > t:
            runner.step_encoded(bar - 1)  # the cheapest events: they are dropped
        tick, orders = by_bar[bar]
        runner.step(bar, orders, tick)
        t = bar + 1
    if t < bars_done:
        runner.step_encoded(bars_done - 1)


def _manual(event: OrderEvent) -> ManualOrder:
    return ManualOrder(
        order_id=event.order_id, symbol=event.symbol, side=event.side,
        order_type=event.order_type, quantity=event.quantity, limit_price=event.limit_price,
        stop_loss=event.stop_loss, take_profit=event.take_profit,
        trailing_stop=event.trailing_stop, client_order_id=event.client_order_id,
    )  # fmt: skip


class _Loop:
    def __init__(
        self,
        runner: SessionRunner,
        feed: Feed,
        sessions: sessionmaker[Session],
        publisher: SessionPublisher,
        keep_going: Callable[[], bool],
    ) -> None:
        self.runner = runner
        self.feed = feed
        self.sessions = sessions
        self.publisher = publisher
        self.keep_going = keep_going
        self.max_speed = runner.spec.speed == "max"
        self.market_ns = 0
        """The market instant of the last tick the feed waited for (where a new speed starts)."""
        self.last_pnl = 0.0
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def run(self) -> SessionState:
        try:
            state = self._run()
            self._settle()
            return state
        except BaseException:
            self._settle(quiet=True)
            raise
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)

    def _run(self) -> SessionState:
        runner = self.runner
        if runner.next_bar < runner.n:
            self.market_ns = int(runner.opened_ns[runner.next_bar])
            self.feed.rebase(self.market_ns)
        while not runner.done:
            if not self.keep_going():
                return SessionState.RUNNING
            state, orders = self._poll()
            if state is not SessionState.RUNNING:
                return self._halt(state)
            if self.max_speed and not orders and not runner.oms.busy:
                self._journal_encoded(self._max_batch())
            else:
                t = runner.next_bar
                streamed, at_tick = self._stream_ticks(t, orders)
                if streamed is None:
                    if not self.keep_going():
                        return SessionState.RUNNING
                    return self._halt(self._state())
                self._journal(runner.step(t, streamed, at_tick))
        return self._finish()

    def _max_batch(self) -> list[EncodedEvent]:
        """Bars at speed max until MAX_SPEED_BATCH_BARS or MAX_SPEED_BATCH_S, whichever first."""
        runner = self.runner
        events: list[EncodedEvent] = []
        started = time.monotonic()
        # A batch ends on a multiple of RUN_BLOCK (or the end): a session cut off between
        # batches resumes there, where an uninterrupted run also ended a quiet run.
        aligned = (runner.next_bar + MAX_SPEED_BATCH_BARS) // RUN_BLOCK * RUN_BLOCK
        end = min(runner.n, max(aligned, (runner.next_bar // RUN_BLOCK + 1) * RUN_BLOCK))
        while runner.next_bar < end and time.monotonic() - started < MAX_SPEED_BATCH_S:
            # Steps end on multiples of RUN_BLOCK: the journal's runs are the same whatever
            # the batches (and a resumed session's batches start where a commit ended).
            block_end = (runner.next_bar // RUN_BLOCK + STEP_BLOCKS) * RUN_BLOCK
            events += runner.step_encoded(min(end, block_end) - 1)
        return events

    def _stream_ticks(
        self, t: int, orders: list[ManualOrder]
    ) -> tuple[list[ManualOrder] | None, int]:
        """Publish bar t's ticks in batches, each when its last tick is due, and look for new
        manual orders after each batch (at a finite speed): (the orders, the tick they enter
        at). `orders` (found before the bar) enter at tick 0. (None, 0) when the session must
        stop looking (lease lost, or the state changed)."""
        runner, size = self.runner, self.runner.spec.tick_batch
        times = [runner.tick_instant(t, k) for k in range(runner.ticks_per_bar)]
        ticks = {s: runner.bar_ticks(t, s) for s in runner.symbols}
        at_tick = 0
        for k0 in range(0, len(times), size):
            k1 = min(k0 + size, len(times))
            if not self.feed.wait_until(times[k1 - 1], self.keep_going):
                return None, 0
            self.market_ns = times[k1 - 1]
            for symbol, prices in ticks.items():
                batch = [
                    (times[k] // 1_000_000, str(price_decimal(float(prices[k]))))
                    for k in range(k0, k1)
                ]
                self.publisher.ticks(runner.session_id, symbol, batch)
            if self.max_speed:
                continue
            if not orders and k1 < len(times):  # later ones wait for the next bar
                state, orders = self._poll()
                at_tick = k1
            else:
                state = self._state()
            if state is not SessionState.RUNNING:
                return None, 0
        return orders, (at_tick if orders else 0)

    def _state(self) -> SessionState:
        """The session's state as the API left it; a speed changed through the API
        (`POST /sessions/{id}/speed`) is followed from here on."""
        with self.sessions() as db:
            value, speed = db.execute(
                select(TradingSession.state, TradingSession.spec["speed"]).where(
                    TradingSession.id == self.runner.session_id
                )
            ).one()
        self._follow_speed(speed)
        return SessionState(value)

    def _follow_speed(self, speed: float | str) -> None:
        """Pace at `speed` from the tick last waited for on (the replay clock does not jump)."""
        wanted: float | Literal["max"] = "max" if speed == "max" else float(speed)
        if wanted == self.feed.speed:
            return
        self.feed.speed = wanted
        self.max_speed = wanted == "max"
        self.feed.rebase(self.market_ns)

    def _poll(self) -> tuple[SessionState, list[ManualOrder]]:
        """The state (following a new speed as `_state` does) and the new manual orders in one
        round trip when there are none (the usual case): at a finite speed this runs after
        every tick batch of every session, so its cost is the trader's
        (bench/stream_sessions.py)."""
        session_id = self.runner.session_id
        look = _shared.look(session_id) if _shared else None
        if look is None:
            with self.sessions() as db:
                look = Look(
                    *db.execute(
                        select(
                            TradingSession.state, TradingSession.spec["speed"], new_orders_waiting()
                        ).where(TradingSession.id == session_id)
                    ).one()
                )
        orders = []
        if look.orders_waiting:
            with self.sessions() as db:
                orders = self._new_orders(db)
        self._follow_speed(look.speed)
        return SessionState(look.state), orders

    def _new_orders(self, db: Session) -> list[ManualOrder]:
        rows = db.execute(
            select(SessionOrder)
            .where(
                SessionOrder.session_id == self.runner.session_id,
                SessionOrder.origin == "manual",
                SessionOrder.status == "new",
            )
            .order_by(SessionOrder.created_at, SessionOrder.id)
        ).scalars()
        return [
            ManualOrder(
                order_id=o.id,
                symbol=o.symbol,
                side=o.side,  # type: ignore[arg-type]
                order_type=o.type,  # type: ignore[arg-type]
                quantity=o.quantity,
                limit_price=o.limit_price,
                stop_loss=o.stop_loss,
                take_profit=o.take_profit,
                trailing_stop=o.trailing_stop,
                client_order_id=o.client_order_id,
            )
            for o in rows
        ]

    def _journal(
        self,
        events: list[SessionEventModel],
        *,
        final: bool = False,
        **changes: Any,
    ) -> None:
        self._settle()  # the batch in flight is journaled first
        runner = self.runner
        now = time.monotonic()
        if final or now - self.last_pnl >= PNL_EVERY_S:
            # Before a closing state change: the state is the journal's last word.
            cut = next((i for i, e in enumerate(events) if isinstance(e, SessionEvent)), None)
            cut = len(events) if cut is None else cut
            events = [*events[:cut], runner.pnl(), *events[cut:]]
            self.last_pnl = now
        with self.sessions() as db, db.begin():
            _store_orders(db, runner.session_id, events)
            journaled = append_events(
                db, runner.session_id, events, clock=runner.clock, bars_done=runner.next_bar,
                bars_total=runner.n, updated_at=datetime.now(UTC), **changes,
            )  # fmt: skip
        self._publish(journaled)

    def _journal_encoded(self, events: list[EncodedEvent]) -> None:
        """`_journal` for speed max's batches: one COPY for all the rows (journal_copy),
        committed by the writer thread while the runner computes the next batch (PostgreSQL
        ingests in its own process: the two overlap). One batch at most is in flight; every
        other journal write, and `run`'s return, waits for it first (`_settle`)."""
        runner = self.runner
        now = time.monotonic()
        if now - self.last_pnl >= PNL_EVERY_S:
            events = [*events, encoded(runner.pnl())]
            self.last_pnl = now
        priced = [parse_session_event(e.json) for e in events if e.type in _ORDER_ROWS]
        changes = {"clock": runner.clock, "bars_done": runner.next_bar, "bars_total": runner.n}
        self._settle()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="journal")
        context = contextvars.copy_context()  # the lease holder (leases.held_by) goes along
        self._pending = self._writer.submit(
            context.run, self._commit_encoded, events, priced, changes
        )

    def _commit_encoded(
        self, events: list[EncodedEvent], priced: list[SessionEventModel], changes: dict[str, Any]
    ) -> None:
        runner = self.runner
        with self.sessions() as db, db.begin():
            _store_orders(db, runner.session_id, priced)
            journaled = append_encoded(
                db, runner.session_id, events, decode=not isinstance(self.publisher, NullPublisher),
                updated_at=datetime.now(UTC), **changes,
            )  # fmt: skip
        if journaled and journaled[0].payload:
            self._publish(journaled)

    def _settle(self, *, quiet: bool = False) -> None:
        """Wait for the batch in flight; its error (database down, lease lost) is raised here
        unless `quiet` (another error is already on its way)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if quiet:
            with contextlib.suppress(Exception):
                pending.result()
            return
        pending.result()

    def _publish(self, journaled: list[JournaledEvent]) -> None:
        with contextlib.suppress(Exception):  # a publisher never stops a session
            self.publisher.events(journaled)

    def _halt(self, state: SessionState) -> SessionState:
        runner = self.runner
        at = runner.clock or datetime.now(UTC)
        if state is SessionState.KILLED:
            if not runner.legs.killed:
                self._journal(runner.kill("killed by request"), final=True)
        elif state is SessionState.STOPPED and runner.oms.working:
            self._journal(runner.oms.cancel_all("session stopped", at), final=True)
        return state

    def _finish(self) -> SessionState:
        runner = self.runner
        at = runner.clock or datetime.now(UTC)
        events: list[SessionEventModel] = []
        events += runner.oms.cancel_all("the replay ended", at, kind="order.expired")
        events.append(SessionEvent(
            state=SessionState.FINISHED, previous=SessionState.RUNNING,
            reason="the replay reached the end of its range", at=at,
        ))  # fmt: skip
        self._journal(
            events, final=True, state="finished", reason="the replay reached the end of its range"
        )
        return SessionState.FINISHED


def _store_orders(db: Session, session_id: uuid.UUID, events: Sequence[SessionEventModel]) -> None:
    """Strategy orders into `session_order` (ids derived from fill numbers: a replayed fill
    inserts nothing); manual orders' status, price and fee moved with the events that move it."""
    fills = {e.order_id: e for e in events if isinstance(e, TradeEvent)}
    strategy = []
    for event in events:
        if not isinstance(event, OrderEvent):
            continue
        fill = fills.get(event.order_id)
        filled = {"filled_price": fill.price, "fee": fill.fee, "filled_at": fill.at} if fill else {}
        if event.origin == "strategy":
            strategy.append({
                "id": event.order_id, "session_id": session_id,
                "client_order_id": str(event.order_id), "origin": "strategy",
                "leg": event.leg, "symbol": event.symbol, "side": event.side,
                "type": event.order_type, "quantity": event.quantity, "status": "filled",
                **filled,
            })  # fmt: skip
            continue
        db.execute(
            update(SessionOrder)
            .where(SessionOrder.id == event.order_id)
            .values(
                status=event.type.removeprefix("order."),
                reason=event.reason,
                updated_at=datetime.now(UTC),
                **(filled if event.type == "order.filled" else {}),
            )
        )
    if strategy:  # executemany: a multi-row VALUES of thousands of rows costs seconds to compile
        db.execute(insert(SessionOrder).on_conflict_do_nothing(), strategy)


def _fail(
    session_id: uuid.UUID, sessions: sessionmaker[Session], publisher: SessionPublisher, reason: str
) -> SessionState:
    with sessions() as db, db.begin():
        row = db.get(TradingSession, session_id)
        previous = SessionState(row.state) if row else None
        event = SessionEvent(
            state=SessionState.FAILED, previous=previous, reason=reason[:2000],
            at=(row.clock if row and row.clock else datetime.now(UTC)),
        )  # fmt: skip
        journaled = append_events(db, session_id, [event], state="failed", reason=reason[:2000])
    with contextlib.suppress(Exception):  # a publisher never stops a session
        publisher.events(journaled)
    return SessionState.FAILED

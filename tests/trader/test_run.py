"""trader.run.run_session against real PostgreSQL: the journal's fills are the backtest's, a
session cut off mid-way resumes to the same fills with nothing twice, manual orders flow
new -> accepted -> filled, and a kill flattens and halts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.velocitas.sessions.market import session_spec
from trader import run as trader_run
from trader.run import run_session
from velocitas.db.accounts import create_user
from velocitas.db.engine import get_engine
from velocitas.db.journal import append_events, events_after
from velocitas.db.models.sessions import SessionOrder, TradingSession
from velocitas.db.sessions import set_speed
from velocitas.domain.session_events import SessionEvent, SessionState
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.runner import run_backtest
from velocitas.ingest.importer import import_table
from velocitas.sessions import runner as session_runner
from velocitas.sessions.feed import load_replay_bars
from velocitas.sessions.publisher import RecordingPublisher
from velocitas.sessions.runner import strategy_order_id
from velocitas.sessions.spec import SessionSpec
from velocitas.synth import synth_bars

BARS = 1500
STOPS = {"stop_loss": {"kind": "percent", "value": "0.004"},
         "trailing_stop": {"kind": "percent", "value": "0.003"}}  # fmt: skip


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    for symbol, seed in (("AAA", 3), ("BBB", 4)):
        import_table(synth_bars(BARS, Timeframe.M1, seed=seed), symbol=symbol, timeframe="1m")
    return sessionmaker(get_engine(), expire_on_commit=False)


def _spec(**overrides: Any) -> SessionSpec:
    legs = [
        ("AAA", "sma_cross", {"fast": 5, "slow": 20}),
        ("BBB", "ema_cross", {"fast": 8, "slow": 30}),
    ]
    return session_spec(legs, **{"stops": STOPS, **overrides})


def _create(
    sessions: sessionmaker[Session], spec: SessionSpec, state: str = "running"
) -> uuid.UUID:
    with sessions() as db, db.begin():
        owner = create_user(db, f"u{uuid.uuid4().hex[:8]}").user
        row = TradingSession(
            owner_id=owner.id, name="t", spec=spec.model_dump(mode="json"), state=state
        )
        db.add(row)
        db.flush()
        return row.id


def _journal(sessions: sessionmaker[Session], session_id: uuid.UUID) -> list[dict[str, Any]]:
    with sessions() as db:
        events = events_after(db, session_id, 0, limit=1_000_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap, no duplicate
    return [e.payload for e in events]


def _fills(journal: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["leg"], e["symbol"], e["side"], Decimal(e["quantity"]), Decimal(e["price"]),
         Decimal(e["fee"]), e["reason"])
        for e in journal if e["type"] == "fill"
    ]  # fmt: skip


def _bars(journal: list[dict[str, Any]], kind: str) -> int:
    """The bars the journal's `kind` events close (a `bars.closed` closes a run of them)."""
    return sum(len(e["opened_at"]) if kind == "bars.closed" else 1
               for e in journal if e["type"] == kind)  # fmt: skip


def _always() -> bool:
    return True


def test_journal_fills_are_the_backtests_trades(sessions: sessionmaker[Session]) -> None:
    spec = _spec()
    session_id = _create(sessions, spec)
    publisher = RecordingPublisher()
    assert run_session(session_id, sessions, publisher, keep_going=_always) is SessionState.FINISHED
    journal = _journal(sessions, session_id)
    backtest = run_backtest(spec.backtest_spec(), load_replay_bars(spec))
    expected = [
        (f.leg, f.symbol, f.side.value, f.quantity, f.price, f.fee, f.reason)
        for f in backtest.fills
    ]
    assert _fills(journal) == expected
    assert len(expected) > 10
    assert [e.payload for e in publisher.published_events] == journal
    pnl = [e for e in journal if e["type"] == "pnl"][-1]
    assert Decimal(pnl["equity"]) == backtest.final_equity
    assert journal[-1]["type"] == "session.state"
    assert journal[-1]["state"] == "finished"
    assert _bars(journal, "bar.closed") + _bars(journal, "bars.closed") == 2 * BARS
    assert _bars(journal, "bars.closed") > _bars(journal, "bar.closed")  # speed max: compact
    with sessions() as db:
        row = db.get(TradingSession, session_id)
        assert row is not None
        assert row.state == "finished"
        assert row.bars_done == row.bars_total
        orders = (
            db.execute(select(SessionOrder).where(SessionOrder.session_id == session_id))
            .scalars()
            .all()
        )
    assert sorted((o.filled_price, o.fee) for o in orders) == sorted((f[4], f[5]) for f in expected)


def test_a_session_cut_off_resumes_to_the_same_fills(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Quiet runs end every 100 bars (batches end on such multiples): many places to cut.
    monkeypatch.setattr(trader_run, "RUN_BLOCK", 100)
    monkeypatch.setattr(session_runner, "RUN_BLOCK", 100)
    spec = _spec()
    whole = _create(sessions, spec)
    run_session(whole, sessions, RecordingPublisher(), keep_going=_always)
    monkeypatch.setattr(trader_run, "MAX_SPEED_BATCH_BARS", 200)
    cut = _create(sessions, spec)
    for lives in (2, 3, 1, 10_000):  # the lease is lost after a few batches, several times
        left = iter(range(lives))
        keep_going: Callable[[], bool] = lambda left=left: next(left, None) is not None  # noqa: E731
        state = run_session(cut, sessions, RecordingPublisher(), keep_going=keep_going)
    assert state is SessionState.FINISHED

    def strip(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Without pnl snapshots (once a wall second) and order ids (the session's own)."""
        return [{**e, "order_id": None} for e in journal if e["type"] != "pnl"]

    resumed = _journal(sessions, cut)
    assert strip(resumed) == strip(_journal(sessions, whole))
    assert _bars(resumed, "bars.closed") > _bars(resumed, "bar.closed")  # the compact journal
    fills = [e for e in resumed if e["type"] == "fill"]
    assert [e["order_id"] for e in fills] == [
        str(strategy_order_id(cut, e["fill_no"])) for e in fills
    ]
    with sessions() as db:
        orders = db.execute(select(SessionOrder).where(SessionOrder.session_id == cut)).scalars()
        assert len(list(orders)) == len(fills)


def test_manual_market_order_fills_at_the_next_tick(sessions: sessionmaker[Session]) -> None:
    spec = _spec(speed=1_000_000.0, end="2026-01-01T01:00:00Z")  # the first hour, paced
    session_id = _create(sessions, spec)
    with sessions() as db, db.begin():
        for client, quantity in (("buy-1", "1"), ("too-big", "100000")):
            db.add(SessionOrder(
                session_id=session_id, client_order_id=client, origin="manual", symbol="AAA",
                side="buy", type="market", quantity=Decimal(quantity), stop_loss=None,
            ))  # fmt: skip
    publisher = RecordingPublisher()
    assert run_session(session_id, sessions, publisher, keep_going=_always) is SessionState.FINISHED
    journal = _journal(sessions, session_id)
    manual = [
        e
        for e in journal
        if e.get("origin") == "manual" or (e["type"] == "fill" and e["leg"] is None)
    ]
    kinds = [(e["type"], e.get("client_order_id")) for e in manual]
    assert ("order.accepted", "buy-1") in kinds
    assert ("order.filled", "buy-1") in kinds
    assert ("order.rejected", "too-big") in kinds
    rejected = next(e for e in manual if e["type"] == "order.rejected")
    assert rejected["reason"].startswith("insufficient funds: order costs ")
    with sessions() as db:
        orders = {
            o.client_order_id: o
            for o in db.execute(
                select(SessionOrder).where(SessionOrder.origin == "manual")
            ).scalars()
        }
    assert orders["buy-1"].status == "filled"
    assert orders["buy-1"].filled_price is not None
    assert orders["too-big"].status == "rejected"
    assert publisher.tick_batches
    assert all(len(b[2]) <= spec.tick_batch for b in publisher.tick_batches)
    pnl = [e for e in journal if e["type"] == "pnl"][-1]
    assert any(row["leg"] is None and row["symbol"] == "AAA" for row in pnl["legs"])


def test_kill_flattens_and_halts(sessions: sessionmaker[Session]) -> None:
    spec = _spec(stops={})
    session_id = _create(sessions, spec)
    calls = iter(range(10_000))

    def kill_after_first_batch() -> bool:
        if next(calls) == 1:
            with sessions() as db, db.begin():
                append_events(db, session_id, [SessionEvent(
                    state=SessionState.KILLED, previous=SessionState.RUNNING, reason="test",
                    at="2026-01-01T00:00:00Z",
                )], state="killed")  # fmt: skip
        return True

    monkey = pytest.MonkeyPatch()
    monkey.setattr(trader_run, "MAX_SPEED_BATCH_BARS", 600)
    try:
        state = run_session(
            session_id, sessions, RecordingPublisher(), keep_going=kill_after_first_batch
        )
    finally:
        monkey.undo()
    assert state is SessionState.KILLED
    journal = _journal(sessions, session_id)
    assert any(e["type"] == "risk.killed" and e["rule"] == "manual_kill" for e in journal)
    positions: dict[int, str] = {}
    for e in journal:
        if e["type"] == "position.changed":
            positions[e["leg"]] = e["side"]
    assert set(positions.values()) <= {"flat"}
    # Run again: nothing more is journaled (the kill's fills are not repeated).
    before = len(journal)
    assert (
        run_session(session_id, sessions, RecordingPublisher(), keep_going=_always)
        is SessionState.KILLED
    )
    assert len(_journal(sessions, session_id)) == before


class _OrderAtBatch(RecordingPublisher):
    """Places a manual order while the ticks stream: when tick batch `at` is published."""

    def __init__(self, sessions: sessionmaker[Session], session_id: uuid.UUID, at: int) -> None:
        super().__init__()
        self.sessions, self.session_id, self.at = sessions, session_id, at

    def ticks(self, session_id: uuid.UUID, symbol: str, ticks: Any) -> None:
        super().ticks(session_id, symbol, ticks)
        if len(self.tick_batches) == self.at:
            with self.sessions() as db, db.begin():
                db.add(SessionOrder(
                    session_id=self.session_id, client_order_id="mid-bar", origin="manual",
                    symbol="AAA", side="buy", type="market", quantity=Decimal(1),
                    trailing_stop=Decimal("0.002"),
                ))  # fmt: skip


def _manual_journal(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**e, "order_id": None}
        for e in journal
        if e["type"] != "pnl" and (e.get("origin") == "manual" or e.get("leg", 0) is None)
    ]


def test_an_order_placed_mid_bar_enters_at_the_next_tick_and_resumes_identically(
    sessions: sessionmaker[Session],
) -> None:
    spec = _spec(speed=1_000_000.0, end="2024-01-01T00:40:00Z", ticks_per_bar=60)
    whole = _create(sessions, spec)
    # Batch 7 of 2 symbols x 6 batches a bar: bar 0, AAA's 4th batch -> the order enters at
    # tick 40 of bar 0 (the tick after the batch it was placed during).
    run_session(whole, sessions, _OrderAtBatch(sessions, whole, 7), keep_going=_always)
    journal = _journal(sessions, whole)
    accepted = next(e for e in journal if e["type"] == "order.accepted")
    assert accepted["at"] == "2024-01-01T00:00:40Z"
    assert any(e["type"] == "fill" and e["reason"] == "trailing_stop" for e in journal)
    cut = _create(sessions, spec)
    calls = iter(range(10_000_000))
    lives = iter((150, 400, 10_000_000))
    budget = next(lives)

    def dies_now_and_then() -> bool:
        return next(calls) < budget

    publisher = _OrderAtBatch(sessions, cut, 7)
    while (
        run_session(cut, sessions, publisher, keep_going=dies_now_and_then) is SessionState.RUNNING
    ):
        calls, budget = iter(range(10_000_000)), next(lives)
    assert _manual_journal(_journal(sessions, cut)) == _manual_journal(journal)
    strip = [{**e, "order_id": None} for e in _journal(sessions, cut) if e["type"] != "pnl"]
    assert strip == [{**e, "order_id": None} for e in journal if e["type"] != "pnl"]


def _set_state(sessions: sessionmaker[Session], session_id: uuid.UUID, state: str) -> None:
    with sessions() as db, db.begin():
        previous = db.get(TradingSession, session_id)
        assert previous is not None
        append_events(db, session_id, [SessionEvent(
            state=SessionState(state), previous=SessionState(previous.state), reason="test",
            at="2024-01-01T00:00:00Z",
        )], state=state)  # fmt: skip


def test_pause_returns_and_resume_finishes_stop_cancels_working_orders(
    sessions: sessionmaker[Session],
) -> None:
    spec = _spec(speed=1_000_000.0, end="2024-01-01T00:30:00Z")
    session_id = _create(sessions, spec)
    with sessions() as db, db.begin():
        db.add(SessionOrder(
            session_id=session_id, client_order_id="far-limit", origin="manual", symbol="AAA",
            side="buy", type="limit", quantity=Decimal(1), limit_price=Decimal(1),
        ))  # fmt: skip
    _set_state(sessions, session_id, "paused")
    assert run_session(session_id, sessions, RecordingPublisher(), keep_going=_always) is (
        SessionState.PAUSED
    )
    before = len(_journal(sessions, session_id))
    _set_state(sessions, session_id, "running")
    publisher = RecordingPublisher()
    original = publisher.ticks

    def stop_at_batch_30(session: uuid.UUID, symbol: str, ticks: Any) -> None:
        original(session, symbol, ticks)
        if len(publisher.tick_batches) == 30:
            _set_state(sessions, session_id, "stopped")

    publisher.ticks = stop_at_batch_30  # type: ignore[method-assign]
    assert run_session(session_id, sessions, publisher, keep_going=_always) is SessionState.STOPPED
    journal = _journal(sessions, session_id)
    assert len(journal) > before + 1
    mine = [
        (e["type"], e.get("reason")) for e in journal if e.get("client_order_id") == "far-limit"
    ]
    assert mine == [("order.accepted", None), ("order.cancelled", "session stopped")]
    with sessions() as db:
        order = db.execute(select(SessionOrder).where(SessionOrder.client_order_id == "far-limit"))
        assert order.scalar_one().status == "cancelled"


def test_a_speed_change_is_followed_from_the_next_batch_and_changes_no_fill(
    sessions: sessionmaker[Session],
) -> None:
    spec = _spec(speed=1.0, end="2024-01-01T03:00:00Z")  # real time: three hours of replay
    session_id = _create(sessions, spec)
    publisher = RecordingPublisher()
    original = publisher.ticks

    def to_max_after_the_first_batch(session: uuid.UUID, symbol: str, ticks: Any) -> None:
        original(session, symbol, ticks)
        if len(publisher.tick_batches) == 1:
            with sessions() as db, db.begin():
                row = db.get(TradingSession, session_id, with_for_update=True)
                assert row is not None
                set_speed(db, row, "max", "test: as fast as it goes")

    publisher.ticks = to_max_after_the_first_batch  # type: ignore[method-assign]
    # At real time the first batch alone is due 9 s in; were the new speed ignored, the replay
    # would still be running when `keep_going` gives up.
    deadline = time.monotonic() + 120

    def until_deadline() -> bool:
        return time.monotonic() < deadline

    assert run_session(session_id, sessions, publisher, keep_going=until_deadline) is (
        SessionState.FINISHED
    )
    journal = _journal(sessions, session_id)
    speed_events = [e for e in journal if e["type"] == "session.state" and e.get("speed")]
    assert [e["speed"] for e in speed_events] == ["max"]
    backtest = run_backtest(spec.backtest_spec(), load_replay_bars(spec))
    assert _fills(journal) == [
        (f.leg, f.symbol, f.side.value, f.quantity, f.price, f.fee, f.reason)
        for f in backtest.fills
    ]

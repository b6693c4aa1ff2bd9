"""`velocitas.db.sessions` on a real PostgreSQL: the whole state machine (every action from
every state), and concurrent retries of one `client_order_id` creating one order."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from velocitas.db import sessions as store
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.models.sessions import SessionJournalEntry, SessionOrder, TradingSession
from velocitas.domain.session_events import SessionState
from velocitas.errors import Conflict

SPEC: dict[str, Any] = {
    "legs": [{"symbol": "BTCUSDT", "strategy": {"name": "sma_cross", "params": {}}}],
    "timeframe": "1h",
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-02T00:00:00Z",
    "initial_cash": "10000",
}

# The contract's table (docs/sessions.md, "States"): action -> the states it may leave.
CONTRACT = {
    "start": {"created"},
    "pause": {"running"},
    "resume": {"paused"},
    "stop": {"running", "paused"},
    "kill": {"created", "running", "paused"},
}


def _session_in(state: SessionState) -> tuple[uuid.UUID, uuid.UUID]:
    with session_scope() as db:
        owner = create_user(db, f"u{uuid.uuid4().hex[:8]}").user.id
        row = store.create_session(db, owner, SPEC, name="s")
        db.execute(
            update(TradingSession).where(TradingSession.id == row.id).values(state=state.value)
        )
        return owner, row.id


@pytest.mark.parametrize("action", list(CONTRACT))
@pytest.mark.parametrize("state", list(SessionState))
def test_every_action_from_every_state_follows_the_contract(
    database_url: str, action: str, state: SessionState
) -> None:
    owner, session_id = _session_in(state)
    with session_scope() as db:
        row = store.get_owned_session(db, session_id, owner, lock=True)
        if state.value not in CONTRACT[action]:
            with pytest.raises(Conflict, match=f"cannot {action}"):
                store.transition(db, row, action, "because")
            return
        journaled = store.transition(db, row, action, "because")
    assert [event.seq for event in journaled] == [1]
    assert journaled[0].payload["previous"] == state.value
    with session_scope() as db:
        row = db.get_one(TradingSession, session_id)
        assert (row.state, row.reason, row.last_seq) == (
            store.ACTIONS[action].value, "because", 1,
        )  # fmt: skip


def test_concurrent_retries_of_one_client_order_id_create_one_order(database_url: str) -> None:
    owner, session_id = _session_in(SessionState.RUNNING)
    order = store.ManualOrder(
        symbol="BTCUSDT", side="buy", type="market", quantity=Decimal("1"), client_order_id="x"
    )
    placed: list[uuid.UUID] = []
    start = threading.Barrier(4)

    def retry() -> None:
        start.wait()
        with session_scope() as db:
            row = store.get_owned_session(db, session_id, owner, lock=True)
            created, _ = store.place_order(db, row, order)
            placed.append(created.id)

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(placed) == 4
    assert len(set(placed)) == 1
    with session_scope() as db:
        orders = db.execute(select(func.count()).select_from(SessionOrder)).scalar_one()
        events = db.execute(
            select(SessionJournalEntry.type).where(SessionJournalEntry.session_id == session_id)
        ).scalars()
        assert (orders, list(events)) == (1, ["order.new"])

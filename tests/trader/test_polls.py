"""`SharedPolls`: one query a beat for every watched session; each session reads the latest
look of its row (state, speed, a manual order waiting), fresh or not at all."""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import create_engine, update
from sqlalchemy.orm import sessionmaker

from tests.support.waiting import wait_until
from tests.trader.sessions import make_session
from trader.polls import Look, SharedPolls
from velocitas.db.engine import get_engine
from velocitas.db.models.sessions import SessionOrder, TradingSession


def test_a_watched_session_is_seen_as_its_row_changes(database_url: str) -> None:
    sessions = sessionmaker(get_engine(), expire_on_commit=False)
    with sessions.begin() as db:
        watched, other = make_session(db), make_session(db)
        db.execute(update(TradingSession).values(spec={"speed": 60}))
    polls = SharedPolls(sessions, interval_s=0.02)
    with polls.watching(watched):
        wait_until(lambda: polls.look(watched) is not None, timeout=10)
        assert polls.look(watched) == Look("running", 60, False)
        assert polls.look(other) is None  # not watched: the session queries for itself
        with sessions.begin() as db:
            db.execute(
                update(TradingSession)
                .where(TradingSession.id == watched)
                .values(state="paused", spec={"speed": "max"})
            )
            db.add(SessionOrder(
                session_id=watched, origin="manual", symbol="AAA", side="buy", type="market",
                quantity=Decimal(1),
            ))  # fmt: skip
        wait_until(lambda: polls.look(watched) == Look("paused", "max", True), timeout=10)
    assert polls.look(watched) is None  # no longer watched


def test_no_fresh_look_without_the_database(database_url: str) -> None:
    with sessionmaker(get_engine()).begin() as db:
        session_id = make_session(db)
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    polls = SharedPolls(sessionmaker(unreachable), interval_s=0.02, stale_after_s=0.1)
    with polls.watching(session_id):
        for _ in range(20):  # a second of failed polls
            assert polls.look(session_id) is None  # the session meets the outage itself
            time.sleep(0.05)

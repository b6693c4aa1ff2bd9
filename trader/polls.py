"""`SharedPolls`: one query a beat for every session a trader runs, instead of one per session
and tick batch.

At a finite speed a session looks at its row after every tick batch (has the user paused,
stopped or killed it, changed its speed, placed an order?). One query per look is one round
trip and a SQLAlchemy session each time; a hundred sessions at real time x 60 make ~600 a
second, and those looks were three quarters of a trader's time (bench/stream_sessions.py). With
`SharedPolls` a single thread reads the rows of every session the process runs every
`interval_s` (one query), and each session reads the latest snapshot instead: what the user
did is seen within one interval (50 ms by default) plus a batch. A snapshot older than
`stale_after_s` (the poller cannot reach PostgreSQL) is not used: the session queries itself
and meets the outage itself, as without sharing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from velocitas.db.models.sessions import SessionOrder, TradingSession

__all__ = ["Look", "SharedPolls", "new_orders_waiting"]

log = logging.getLogger(__name__)


class Look(NamedTuple):
    """What a session needs to know of its row between tick batches."""

    state: str
    speed: Any
    orders_waiting: bool


def new_orders_waiting() -> Any:
    """`EXISTS` a manual order of the row's session still `new` (correlated to TradingSession)."""
    return exists().where(
        SessionOrder.session_id == TradingSession.id,
        SessionOrder.origin == "manual",
        SessionOrder.status == "new",
    )


class SharedPolls:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        interval_s: float = 0.05,
        stale_after_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._interval_s = interval_s
        self._stale_after_s = stale_after_s
        self._lock = threading.Lock()
        self._watched: dict[uuid.UUID, int] = {}
        self._looks: dict[uuid.UUID, Look] = {}
        self._read_at = 0.0
        threading.Thread(target=self._loop, name="session-polls", daemon=True).start()

    @contextlib.contextmanager
    def watching(self, session_id: uuid.UUID) -> Iterator[None]:
        """Keep `session_id` in the poll while the block runs."""
        with self._lock:
            self._watched[session_id] = self._watched.get(session_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._watched.pop(session_id) - 1
                if left:
                    self._watched[session_id] = left
                else:
                    self._looks.pop(session_id, None)

    def look(self, session_id: uuid.UUID) -> Look | None:
        """The session's row as last read, or None when there is no fresh reading of it."""
        with self._lock:
            if time.monotonic() - self._read_at > self._stale_after_s:
                return None
            return self._looks.get(session_id)

    def _loop(self) -> None:
        while True:
            time.sleep(self._interval_s)
            with self._lock:
                ids = list(self._watched)
            if not ids:
                continue
            try:
                with self._sessions() as db:
                    rows = db.execute(
                        select(
                            TradingSession.id,
                            TradingSession.state,
                            TradingSession.spec["speed"],
                            new_orders_waiting(),
                        ).where(TradingSession.id.in_(ids))
                    ).all()
            except Exception:  # the sessions see for themselves (their snapshots go stale)
                log.debug("the shared session poll failed", exc_info=True)
                continue
            with self._lock:
                for session_id, state, speed, waiting in rows:
                    if session_id in self._watched:
                        self._looks[session_id] = Look(state, speed, bool(waiting))
                self._read_at = time.monotonic()

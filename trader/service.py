"""The trader: claims running sessions through leases, runs each in a slot, keeps the leases
alive, and hands them back when it stops.

One process runs `TRADER_SLOTS` sessions, one thread each, plus a claim loop (the main thread)
and a heartbeat thread that renews every lease it holds each `ttl/3`. Threads, not processes:
a session at a finite speed mostly waits for its clock and the database, and at `speed=max`
its numba kernels run a bar or a chunk of bars at a time, so the GIL is held briefly; threads
share one connection pool and one heartbeat per process. CPU-bound load scales by starting
more traders (`velocitas up --traders N`, compose replicas), each claiming its own share.

A session's `keep_going` turns False at once when its lease is lost (a renewal found another
trader on the row) or the trader is stopping (SIGTERM): the runner returns, and a stopping
trader releases the lease so another trader claims the session within `TRADER_POLL_S`. Inside
its slot every journal append is checked against the lease (`velocitas.db.leases.held_by`),
so a trader that lost a lease can never write to that journal again.

PostgreSQL unreachable while a session runs: the slot waits for the database to answer again,
then journals, with the lease still held, `session.state` paused with the reason ("database
unreachable for 4.2 s: ...") and running again ("database reachable again"), and resumes
the runner, which rebuilds its state from the journal: nothing appended twice, nothing lost.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from trader.settings import TraderSettings
from trader.telemetry import BARS, LEASE_TAKEOVERS, LEASES_LOST, SESSIONS_RUNNING, SLOTS
from velocitas.db import leases
from velocitas.db.journal import append_events
from velocitas.db.models.sessions import TradingSession
from velocitas.domain.session_events import SessionEvent, SessionState
from velocitas.sessions.publisher import SessionPublisher

__all__ = ["DATABASE_DOWN", "SessionRunner", "Trader", "load_runner"]

log = logging.getLogger(__name__)

DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, psycopg.OperationalError)
"""What a lost or refused database connection raises (through SQLAlchemy or psycopg)."""


class SessionRunner(Protocol):
    def __call__(
        self,
        session_id: uuid.UUID,
        sessions: sessionmaker[Session],
        publisher: SessionPublisher,
        *,
        keep_going: Callable[[], bool],
    ) -> SessionState: ...


def load_runner(path: str) -> SessionRunner:
    """The runner named `module:function` (TRADER_RUNNER)."""
    module, _, name = path.partition(":")
    runner: SessionRunner = getattr(importlib.import_module(module), name)
    return runner


class Trader:
    def __init__(
        self,
        settings: TraderSettings,
        sessions: sessionmaker[Session],
        runner: SessionRunner,
        publisher: SessionPublisher,
    ) -> None:
        self.settings, self.sessions, self.runner, self.publisher = (
            settings,
            sessions,
            runner,
            publisher,
        )
        self.trader_id = settings.identity
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[uuid.UUID, threading.Event] = {}  # session -> its lease was lost
        self._bars_done: dict[uuid.UUID, int] = {}
        self._threads: list[threading.Thread] = []

    def stop(self) -> None:
        """Stop claiming, tell every session to stop, release their leases (SIGTERM)."""
        self._stopping.set()

    def held(self) -> set[uuid.UUID]:
        with self._lock:
            return set(self._held)

    def run(self) -> None:
        """Claim and run sessions until `stop`, then drain (blocking)."""
        SLOTS.set(self.settings.trader_slots)
        log.info("trader %s: %d slot(s)", self.trader_id, self.settings.trader_slots)
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        while not self._stopping.is_set():
            claimed = self._claim_one() if self._free_slots() else None
            if claimed is None:
                self._stopping.wait(self.settings.trader_poll_s)
        self._drain()

    def _free_slots(self) -> bool:
        self._threads = [t for t in self._threads if t.is_alive()]
        return len(self._threads) < self.settings.trader_slots

    def _claim_one(self) -> uuid.UUID | None:
        try:
            with self.sessions.begin() as db:
                claim = leases.claim(db, self.trader_id, self.settings.trader_lease_ttl_s)
        except DATABASE_DOWN as exc:
            log.warning("trader %s: cannot claim, database unreachable: %s", self.trader_id, exc)
            return None
        if claim is None:
            return None
        if claim.previous is not None:
            LEASE_TAKEOVERS.inc()
            log.info("took session %s over from %s", claim.session_id, claim.previous)
        lost = threading.Event()
        with self._lock:
            self._held[claim.session_id] = lost
            SESSIONS_RUNNING.set(len(self._held))
        thread = threading.Thread(
            target=self._run_session,
            args=(claim.session_id, lost),
            name=f"session-{claim.session_id}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()
        return claim.session_id

    def _run_session(self, session_id: uuid.UUID, lost: threading.Event) -> None:
        def keep_going() -> bool:
            return not lost.is_set() and not self._stopping.is_set()

        try:
            with leases.held_by(self.trader_id):
                self._run_until_done(session_id, lost, keep_going)
        finally:
            with self._lock:
                self._held.pop(session_id, None)
                self._bars_done.pop(session_id, None)
                SESSIONS_RUNNING.set(len(self._held))
            if not lost.is_set():
                self._release(session_id)

    def _run_until_done(
        self, session_id: uuid.UUID, lost: threading.Event, keep_going: Callable[[], bool]
    ) -> None:
        while keep_going():
            try:
                state = self.runner(
                    session_id, self.sessions, self.publisher, keep_going=keep_going
                )
                log.info("session %s: runner returned in state %s", session_id, state)
                return
            except leases.LeaseLost as exc:
                LEASES_LOST.inc()
                lost.set()
                log.warning("%s", exc)
                return
            except DATABASE_DOWN as exc:
                if not self._outage(session_id, lost, exc):
                    return
            except Exception as exc:  # the runner's own bug: fail the session, not the trader
                log.exception("session %s failed", session_id)
                self._fail(session_id, f"{type(exc).__name__}: {exc}")
                return

    def _outage(self, session_id: uuid.UUID, lost: threading.Event, error: Exception) -> bool:
        """Wait out a database outage, then journal that the session paused and resumed.
        False: stop running it (stopping, or the lease went to another trader meanwhile)."""
        since = time.monotonic()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        log.warning("session %s: database unreachable: %s", session_id, first_line)
        if not self._wait_for_database():
            return False
        took = time.monotonic() - since
        try:
            with self.sessions.begin() as db:
                if session_id not in leases.renew(
                    db, self.trader_id, [session_id], self.settings.trader_lease_ttl_s
                ):
                    raise leases.LeaseLost(session_id, self.trader_id, None)
                state, clock = db.execute(
                    select(TradingSession.state, TradingSession.clock).where(
                        TradingSession.id == session_id
                    )
                ).one()
                if state != SessionState.RUNNING:
                    return True  # paused or ended by its user meanwhile: the runner sees it
                at = clock or datetime.now(UTC)
                paused = f"database unreachable for {took:.1f} s: {first_line}"
                resumed = "database reachable again: resumed from the journal"
                journaled = append_events(
                    db,
                    session_id,
                    [
                        SessionEvent(
                            state=SessionState.PAUSED,
                            previous=SessionState.RUNNING,
                            reason=paused,
                            at=at,
                        ),
                        SessionEvent(
                            state=SessionState.RUNNING,
                            previous=SessionState.PAUSED,
                            reason=resumed,
                            at=at,
                        ),
                    ],
                    trader_id=self.trader_id,
                    reason=resumed,
                )
        except leases.LeaseLost as exc:
            LEASES_LOST.inc()
            lost.set()
            log.warning("%s", exc)
            return False
        except DATABASE_DOWN:
            return True  # down again: the runner's next call meets it and lands here
        self.publisher.events(journaled)
        return True

    def _wait_for_database(self) -> bool:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                with self.sessions() as db:
                    db.execute(text("SELECT 1"))
                return True
            except DATABASE_DOWN:
                self._stopping.wait(delay)
                delay = min(delay * 2, 2.0)
        return False

    def _fail(self, session_id: uuid.UUID, reason: str) -> None:
        try:
            with self.sessions.begin() as db:
                previous = db.execute(
                    select(TradingSession.state, TradingSession.clock).where(
                        TradingSession.id == session_id
                    )
                ).one()
                event = SessionEvent(
                    state=SessionState.FAILED,
                    previous=SessionState(previous.state),
                    reason=reason,
                    at=previous.clock or datetime.now(UTC),
                )
                journaled = append_events(
                    db, session_id, [event], trader_id=self.trader_id, state="failed", reason=reason
                )
        except (leases.LeaseLost, *DATABASE_DOWN) as exc:
            log.warning("session %s: could not record its failure: %s", session_id, exc)
            return
        self.publisher.events(journaled)

    def _release(self, session_id: uuid.UUID) -> None:
        try:
            with self.sessions.begin() as db:
                leases.release(db, self.trader_id, session_id)
        except DATABASE_DOWN as exc:  # it expires by itself after the TTL
            log.warning("session %s: lease not released: %s", session_id, exc)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.settings.heartbeat_s):
            self.renew_now()

    def renew_now(self) -> None:
        """Renew every held lease; a session whose lease is gone is told to stop."""
        held = self.held()
        if not held:
            return
        try:
            with self.sessions.begin() as db:
                renewed = leases.renew(db, self.trader_id, held, self.settings.trader_lease_ttl_s)
        except DATABASE_DOWN as exc:  # unknown, not lost: the appends still check the lease
            log.warning("trader %s: heartbeat failed: %s", self.trader_id, exc)
            return
        with self._lock:
            for session_id in held - set(renewed):
                lost = self._held.get(session_id)
                if lost is not None and not lost.is_set():
                    LEASES_LOST.inc()
                    lost.set()
                    log.warning("session %s: lease lost at renewal", session_id)
            for session_id, bars_done in renewed.items():
                before = self._bars_done.get(session_id, bars_done)
                BARS.inc(max(bars_done - before, 0))
                self._bars_done[session_id] = bars_done

    def _drain(self) -> None:
        deadline = time.monotonic() + self.settings.trader_drain_s
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        log.info("trader %s: stopped; leases released", self.trader_id)

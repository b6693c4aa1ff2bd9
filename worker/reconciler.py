"""The reconciler: one worker at a time finds the jobs nothing would ever finish, and sends
them again.

Every worker's pool process runs it in a thread, every `WORKER_RECONCILE_INTERVAL_S`; only the
holder of a PostgreSQL advisory lock acts: the leader, until its process or its connection
dies and another takes over. Each round:

1. a `running` job whose heartbeat is older than `WORKER_HEARTBEAT_STALE_S` (its worker died)
   goes back to `queued` and is sent again; one conditional UPDATE gives each such job to one
   round only, and the result write keeps a late first delivery from recording twice. Not
   before the leader has been connected that long: after a database outage every heartbeat
   is stale, and the live workers get a period to beat again;
2. a `queued` job with no message, in the queue or held by a live worker, is sent again
   (`worker.redispatch`);
3. a parent (sweep, walk-forward) whose children have all finished, the last one longer ago
   than the heartbeat's staleness, and which nobody settled, is settled.

It runs in the pool processes, not in the worker's main process, because the main process
forks new pool processes (after a crash) and a thread of its own could hold a lock across the
fork.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from velocitas.db import jobs as job_store
from velocitas.db.engine import connect, session_scope
from velocitas.jobs import send_job
from worker.app import app
from worker.lifecycle import settle_parent
from worker.redispatch import Redispatcher
from worker.settings import get_worker_settings

__all__ = ["Leadership", "Reconciler"]

log = logging.getLogger(__name__)

LOCK_KEY = 0x76656C6F63  # "veloc": the advisory lock of the reconciler's leader (per database)


class Leadership:
    """The reconciler's advisory lock, held on a connection of its own for as long as that
    connection lives (PostgreSQL releases it when the holder's connection closes)."""

    def __init__(self) -> None:
        self._connection: psycopg.Connection | None = None
        self._held = False
        self.connected_at = time.monotonic()
        """When this process's database connection was (re)made: `connected_for_s`."""

    @property
    def connected_for_s(self) -> float:
        return time.monotonic() - self.connected_at

    def held(self) -> bool:
        """Whether this process leads: keeps the lock if it has it, else tries to take it."""
        try:
            if self._connection is None:
                self._connection = connect()
                self._connection.autocommit = True
                self.connected_at = time.monotonic()
            if self._held:
                self._connection.execute("SELECT 1")  # alive, so still holding it
            else:
                row = self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)
                ).fetchone()
                self._held = bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("reconciler: lost the database connection: %s", exc)
            self.release()
        return self._held

    def release(self) -> None:
        """Let go now. Closing the connection alone frees the lock only once its server
        process has noticed (asynchronously), so a held lock is unlocked first."""
        if self._connection is not None:
            if self._held:
                with contextlib.suppress(psycopg.Error):  # a dead connection holds nothing
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            self._connection.close()
        self._connection, self._held = None, False


class Reconciler:
    """The reconciler's rounds (`run_round`), and a thread repeating them."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self.leadership = Leadership()
        self.redispatcher = Redispatcher(celery)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name="reconciler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.leadership.release()

    def _loop(self, interval_s: float) -> None:
        while True:
            try:
                if self.leadership.held():
                    self.run_round()
            except Exception:  # the next round tries again; a worker never stops for this
                log.exception("reconciler round failed")
            if self._stop.wait(interval_s):
                return

    def run_round(self) -> None:
        """One round of the leader's work (see the module's docstring)."""
        stale_after = timedelta(seconds=get_worker_settings().worker_heartbeat_stale_s)
        stalled = []
        # Right after an outage every heartbeat is stale: the workers get one staleness period
        # to beat again before a silent one is taken for a dead worker.
        if self.leadership.connected_for_s >= stale_after.total_seconds():
            with session_scope() as session:
                stalled = job_store.requeue_stalled_jobs(session, stale_after=stale_after)
        for job_id, kind in stalled:
            send_job(self.celery, job_id, kind)  # a failed send: step 2 sends it later
        if stalled:
            log.warning("re-sent %d running job(s) whose worker stopped beating", len(stalled))
        self.redispatcher.round()
        with session_scope() as session:
            unsettled = job_store.unsettled_parents(session, idle_for=stale_after)
        for parent_id in unsettled:
            log.warning("settling %s: its children finished but nobody settled it", parent_id)
            settle_parent(parent_id, redelivered=True)


_reconciler: Reconciler | None = None


@worker_process_init.connect
def start_reconciler(**_: Any) -> None:
    global _reconciler
    interval_s = get_worker_settings().worker_reconcile_interval_s
    if interval_s > 0:
        _reconciler = Reconciler(app)
        _reconciler.start(interval_s)


@worker_process_shutdown.connect
def stop_reconciler(**_: Any) -> None:
    if _reconciler is not None:
        _reconciler.stop()

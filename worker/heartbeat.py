"""A running job's heartbeat: a thread stamps `heartbeat_at` on the job every few seconds.

The reconciler (`worker.reconciler`) queues again a running job whose heartbeat stopped: its
worker died (killed, machine lost) and nothing else would ever finish it. A stamp that cannot
be written (the database is away) is skipped: the next one will do, and while the database is
away no reconciler can act on the stale stamp either.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from worker.settings import get_worker_settings

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(job_id: uuid.UUID) -> Iterator[None]:
    """Stamp the job's heartbeat every `WORKER_HEARTBEAT_INTERVAL_S` while the block runs."""
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat_until,
        args=(job_id, stop, get_worker_settings().worker_heartbeat_interval_s),
        name=f"heartbeat-{job_id}",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5.0)  # a beat stuck on an unreachable database ends alone


def _beat_until(job_id: uuid.UUID, stop: threading.Event, interval_s: float) -> None:
    while not stop.wait(interval_s):
        try:
            with session_scope() as session:
                job_store.beat(session, job_id)
        except Exception as exc:  # the database may be away: skip this beat, try the next
            log.warning("job %s: heartbeat not written: %s", job_id, exc)

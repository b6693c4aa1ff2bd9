"""A real Celery worker as a subprocess of the test, in its own process group (so `kill -9`
takes the pool's children too, like a lost machine)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from tests.support.processes import kill_process, python_env, start_process, stop_processes
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobEvent, JobKind
from velocitas.jobs import broker_url, events_channel

# Limits for tests: production defaults are an hour (worker/settings.py).
TEST_LIMITS = {
    "WORKER_SOFT_TIME_LIMIT_S": "60",
    "WORKER_TIME_LIMIT_S": "70",
    "WORKER_VISIBILITY_TIMEOUT_S": "75",
    "WORKER_RESTORE_INTERVAL_S": "1",
    "WORKER_MAX_ATTEMPTS": "3",
    "WORKER_RETRY_BACKOFF_MAX_S": "1",
    # The reconciler re-sends a lost job to its kind's real task, not to a test-only one: it
    # looks for lost jobs in these tests, but leaves running ones to the queue's redelivery.
    "WORKER_HEARTBEAT_STALE_S": "120",
}
FAST_REDELIVERY = {
    # A lost worker's job is handed to another within seconds (for short test jobs only).
    "WORKER_SOFT_TIME_LIMIT_S": "6",
    "WORKER_TIME_LIMIT_S": "8",
    "WORKER_VISIBILITY_TIMEOUT_S": "9",
}


class WorkerProcess:
    """`celery -A worker.app worker` on the test's database, Redis and queue, with a test-only
    module loaded (`include`: by default the tasks of `tests.worker.sleepy_tasks`)."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        queue: str,
        log_dir: Path,
        include: str = "tests.worker.sleepy_tasks",
    ) -> None:
        self.env = python_env(
            {
                **TEST_LIMITS,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "VELOCITAS_JOBS_QUEUE": queue,
            }
        )
        self.queue = queue
        self.log_dir = log_dir
        self.include = include
        self.processes: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []

    def start(self) -> subprocess.Popen[bytes]:
        name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        process = start_process(
            [
                sys.executable, "-m", "celery", "-A", "worker.app", "worker",
                "-Q", self.queue, "-c", "1", "-P", "prefork", "-n", name,
                "-I", self.include, "--loglevel", "INFO",
                "--without-gossip", "--without-mingle",
            ],
            self.env,
            log=self.log_dir / f"{name}.log",
        )  # fmt: skip
        self.processes.append(process)
        self.names.append(name)
        return process

    def kill_hard(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool children: nothing gets to clean up or acknowledge."""
        kill_process(process)

    def stop(self) -> None:
        stop_processes(*self.processes)

    def ready(self) -> set[str]:
        """The names of this handle's workers that answer a remote-control ping: consuming."""
        with _control_app() as app:
            replies = app.control.ping(destination=self.names, timeout=1.0)
        return {name for reply in replies for name in reply}

    def took(self, task_name: str) -> set[str]:
        """The names of this handle's live workers that have taken a `task_name` task, as the
        workers count them themselves (Celery's `inspect stats`), not as their logs tell."""
        with _control_app() as app:
            # Returns as soon as every named worker has replied; the timeout is for a lost one.
            stats = app.control.inspect(destination=self.names, timeout=10.0).stats() or {}
        return {name for name, stat in stats.items() if stat["total"].get(task_name, 0)}


@contextmanager
def _control_app() -> Iterator[Celery]:
    """A client of the workers' remote control (broadcasts over the broker)."""
    app = Celery("test-control", broker=broker_url(), set_as_current=False)
    try:
        yield app
    finally:
        app.close()


def send(task_name: str, job_id: uuid.UUID, queue: str) -> None:
    """Send a job id to a task by name, as the gateway does."""
    producer = Celery("test-producer", broker=broker_url(), set_as_current=False)
    try:
        producer.send_task(task_name, args=[str(job_id)], task_id=str(job_id), queue=queue)
    finally:
        producer.close()


def new_job(owner_id: uuid.UUID, spec: dict[str, Any]) -> uuid.UUID:
    """A queued backtest job owned by `owner_id`, committed."""
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner_id, kind=JobKind.BACKTEST, spec=spec)
        return job.id


def job_row(job_id: uuid.UUID) -> BacktestJob:
    with session_scope() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None
        return job


class EventLog:
    """Collects one owner's job events from Redis in a background thread."""

    def __init__(self, redis_url: str, owner_id: uuid.UUID) -> None:
        self._client = redis.Redis.from_url(redis_url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self.events: list[JobEvent] = []
        self._pubsub.subscribe(**{events_channel(owner_id): self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.01, daemon=True)

    def _on_message(self, message: dict[str, Any]) -> None:
        self.events.append(JobEvent.model_validate_json(message["data"]))

    def types(self, job_id: uuid.UUID) -> list[str]:
        return [e.type for e in self.events if e.job_id == job_id]

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=5)
        self._pubsub.close()
        self._client.close()

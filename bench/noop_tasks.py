"""The peer of `bench/jobs_latency.py`: a Celery task that does nothing but say it ran."""

from __future__ import annotations

import os

import redis

from worker.app import app

NOOP_TASK = "bench.noop"
NOOP_CHANNEL = "velocitas:bench:noop"
_client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost"))


@app.task(name=NOOP_TASK)
def noop(token: str) -> None:
    _client.publish(NOOP_CHANNEL, token)

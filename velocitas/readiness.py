"""Readiness: whether a service can do its work now, for each service's `GET /ready`.

`/health` is liveness (the process answers: cheap, no I/O); `/ready` asks the dependencies:

    database   `SELECT 1` answers within `READY_TIMEOUT_S`
    schema     the database is at the migrations' head (`velocitas db upgrade` has run); once
               seen at head it is not asked again by this process (schemas do not go back)
    redis      `PING` answers within `READY_TIMEOUT_S` (services that use Redis only)

Each check reads "ok" or a short public reason ("unavailable", "behind: at 0007, head is
0008"); what the client library said (a DSN, a socket path) goes to the log, never the body.
Framework-free: each service's health route turns a `Readiness` into its response.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from velocitas import embedded
from velocitas.db.migrate import head_revisions
from velocitas.db.urls import libpq_url
from velocitas.errors import ConfigurationError
from velocitas.settings import Settings

__all__ = ["OK", "READY_TIMEOUT_S", "Readiness", "check_readiness"]

log = logging.getLogger(__name__)

OK = "ok"
READY_TIMEOUT_S = 2
"""Seconds each check may take (libpq's connect timeout counts whole seconds, at least 2)."""

_at_head: set[str] = set()  # database URLs seen at head: their schema is not asked again
_at_head_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Readiness:
    """The outcome of every check: `checks` maps each name to "ok" or why not."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(outcome == OK for outcome in self.checks.values())

    @property
    def status_code(self) -> int:
        """The HTTP status `/ready` answers with: 200, or 503 while a check fails."""
        return 200 if self.ready else 503

    def body(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


def check_readiness(settings: Settings, *, redis_used: bool = False) -> Readiness:
    """Check the database and its schema, and Redis when the service uses it."""
    checks = _database_checks(settings)
    if redis_used:
        checks["redis"] = _redis_check(settings)
    return Readiness(checks)


def _database_checks(settings: Settings) -> dict[str, str]:
    try:
        url = libpq_url(embedded.database_url(settings))
        with _connect(url) as conn:
            conn.execute("SELECT 1")
            schema = OK if url in _at_head else _schema_check(conn)
    except (psycopg.Error, OSError, ConfigurationError) as exc:
        log.warning("not ready: the database is unavailable: %s: %s", type(exc).__name__, exc)
        return {"database": "unavailable", "schema": "unknown (the database is unavailable)"}
    if schema == OK:
        with _at_head_lock:
            _at_head.add(url)
    return {"database": OK, "schema": schema}


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url,
        connect_timeout=READY_TIMEOUT_S,
        options=f"-c statement_timeout={READY_TIMEOUT_S * 1000}",
        autocommit=True,
    )


def _schema_check(conn: psycopg.Connection[Any]) -> str:
    exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return "not migrated (run `velocitas db upgrade`)"
    current = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    heads = _heads()
    if current == heads:
        return OK
    return (
        f"not at head: at {', '.join(sorted(current)) or 'no revision'}, head is "
        f"{', '.join(sorted(heads))} (run `velocitas db upgrade`)"
    )


@lru_cache(maxsize=1)
def _heads() -> frozenset[str]:
    return frozenset(head_revisions())  # the migrations shipped with this code do not change


def _redis_check(settings: Settings) -> str:
    try:
        client = redis.Redis.from_url(
            embedded.redis_url(settings),
            socket_timeout=READY_TIMEOUT_S,
            socket_connect_timeout=READY_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # a probe asks once: its caller polls again
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ConfigurationError) as exc:
        log.warning("not ready: Redis is unavailable: %s: %s", type(exc).__name__, exc)
        return "unavailable"
    return OK

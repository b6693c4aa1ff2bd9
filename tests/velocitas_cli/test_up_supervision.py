"""`velocitas up` keeps the platform running: a process or an embedded server killed with
SIGKILL is started again while the rest keeps serving, and a job submitted afterwards runs; a
service that cannot stay up (a crash loop) stops everything with exit code 1."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil
import pytest
from pgserver.utils import PostmasterInfo

from tests.gateway.conftest import store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.ports import free_port
from tests.support.processes import python_env, start_process, stop_processes, wait_for_http
from tests.support.waiting import wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.worker_processes, pytest.mark.reliability]

_FINISHED = ("succeeded", "failed", "cancelled")


class Up:
    """A running `velocitas up` and what a test needs of it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def child(self, marker: str) -> int | None:
        """The pid of the live child whose command line has `marker` (say `worker1@%h`)."""
        assert self.process.poll() is None, self.log.read_text()
        for child in psutil.Process(self.process.pid).children():
            with suppress(psutil.NoSuchProcess):
                if marker in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                    return child.pid
        return None

    def new_child(self, marker: str, old: int) -> int:
        """Until a child with `marker` other than `old` (0: any) runs: its pid."""
        return wait_until(
            lambda: (pid := self.child(marker)) != old and pid,
            timeout=120,
            message=f"`up` started {marker} again",
            interval=0.1,
        )

    def job_succeeds(self, key: str) -> None:
        """Submit a backtest and wait until it has run."""
        headers = {"Authorization": f"Bearer {key}"}
        accepted = httpx.post(f"{self.base}/backtests", json=SPEC, headers=headers, timeout=30)
        assert accepted.status_code == 202, accepted.text
        location = self.base + accepted.headers["Location"]

        def finished() -> str | None:
            status = httpx.get(location, headers=headers, timeout=10).json()["status"]
            return status if status in _FINISHED else None

        status = wait_until(finished, timeout=240, message="the job finished", interval=0.2)
        assert status == "succeeded", self.log.read_text()[-5000:]


@contextmanager
def running_up(
    env: dict[str, str], log: Path, workers: int, port: int | None = None
) -> Iterator[Up]:
    port = port or free_port()
    argv = [
        sys.executable, "-m", "velocitas_cli.main", "up",
        "--workers", str(workers), "--port", str(port),
    ]  # fmt: skip
    process = start_process(argv, env, log)
    try:
        yield Up(process, port, log)
    finally:
        process.send_signal(signal.SIGTERM)  # `up` stops its own children: that is tested too
        try:
            code = process.wait(timeout=90)
        finally:
            stop_processes(process)
    assert code == 0, log.read_text()[-5000:]


def _kill(pid: int) -> None:
    psutil.Process(pid).send_signal(signal.SIGKILL)


def _running(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _shared_servers_env(database_url: str, redis_url: str, home: Path) -> dict[str, str]:
    return python_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
            "VELOCITAS_HOME": str(home),
        }
    )


def _api_key() -> str:
    store_bars()
    with session_scope() as session:
        return create_user(session, f"u{uuid.uuid4().hex[:8]}").api_key


def test_up_restarts_a_killed_worker_or_gateway_and_the_rest_keeps_serving(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _shared_servers_env(database_url, redis_url, tmp_path)
    key = _api_key()
    with running_up(env, tmp_path / "up.log", workers=2) as up:
        wait_for_http(f"{up.base}/health", up.process, timeout=120)
        gateway, worker1, worker2 = (
            up.new_child(marker, old=0)
            for marker in ("gateway.main:app", "worker1@%h", "worker2@%h")
        )

        _kill(worker1)
        up.new_child("worker1@%h", old=worker1)
        up.job_succeeds(key)
        assert (up.child("gateway.main:app"), up.child("worker2@%h")) == (gateway, worker2)

        _kill(gateway)
        up.new_child("gateway.main:app", old=gateway)
        wait_for_http(f"{up.base}/health", up.process, timeout=120)
        up.job_succeeds(key)
        assert up.child("worker2@%h") == worker2  # the workers never stopped


def _redis_pid(home: Path) -> int | None:
    registry = json.loads((home / "redis" / "redis.db.settings").read_text())
    with suppress(OSError, ValueError):
        return int(Path(registry["pidfile"]).read_text())
    return None


def _postmaster_pid(home: Path) -> int | None:
    """The postmaster's pid once it is ready (its lock file is written line by line)."""
    try:
        lines = (home / "pg" / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return int(lines[0]) if len(lines) >= 8 and lines[7].strip() == "ready" else None


@pytest.fixture
def own_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home for `up`'s own embedded servers (these are killed: never the shared ones),
    under /tmp to keep the Unix socket paths short."""
    home = Path(tempfile.mkdtemp(prefix="vh-"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield home
    get_settings.cache_clear()
    from velocitas.db.engine import _engine_for

    _engine_for.cache_clear()
    shutil.rmtree(home, ignore_errors=True)


def test_up_restarts_its_killed_embedded_redis_and_postgres_and_jobs_still_run(
    own_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = python_env({"VELOCITAS_HOME": str(own_home)})
    for variable in ("DATABASE_URL", "REDIS_URL"):
        env.pop(variable, None)
    with running_up(env, tmp_path / "up.log", workers=1) as up:
        wait_for_http(f"{up.base}/health", up.process, timeout=240)
        info = PostmasterInfo.read_from_pgdata(own_home / "pg")
        assert info is not None
        # This process writes the user and the bars straight into up's database.
        monkeypatch.setenv("DATABASE_URL", info.get_uri(database="velocitas"))
        get_settings.cache_clear()
        key = _api_key()
        gateway = up.child("gateway.main:app")

        redis = _redis_pid(own_home)
        assert redis is not None
        _kill(redis)
        wait_until(
            lambda: (pid := _redis_pid(own_home)) != redis and _running(pid),
            timeout=120,
            message="`up` started Redis again",
        )
        up.job_succeeds(key)

        postmaster = _postmaster_pid(own_home)
        assert postmaster is not None
        _kill(postmaster)
        wait_until(
            lambda: (pid := _postmaster_pid(own_home)) != postmaster and _running(pid),
            timeout=120,
            message="`up` started PostgreSQL again",
        )
        up.job_succeeds(key)
        assert up.child("gateway.main:app") == gateway  # the services rode it out
        restarted_redis, restarted_postgres = _redis_pid(own_home), _postmaster_pid(own_home)
    # `up` has stopped: the servers it started again stopped with it, as the first ones would.
    wait_until(
        lambda: not _running(restarted_redis) and not _running(restarted_postgres),
        timeout=60,
        message="the restarted servers stopped with `up`",
    )


def test_up_stops_everything_with_exit_code_1_when_a_service_crash_loops(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _shared_servers_env(database_url, redis_url, tmp_path)
    log = tmp_path / "up.log"
    with socket.socket() as taken:  # the gateway's port: it exits at every start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [
            sys.executable, "-m", "velocitas_cli.main", "up", "--workers", "1", "--port", str(port),
        ]  # fmt: skip
        up = start_process(argv, env, log)
        children: set[int] = set()

        def gave_up() -> bool:
            with suppress(psutil.NoSuchProcess):
                children.update(child.pid for child in psutil.Process(up.pid).children())
            return up.poll() is not None

        try:
            wait_until(gave_up, timeout=300, message="`up` gave up", interval=0.2)
        finally:
            stop_processes(up)
    assert up.returncode == 1, log.read_text()[-5000:]
    assert len(children) >= 4  # gateway, oracle, analyst, worker1 were started ...
    assert not [pid for pid in children if _running(pid)]  # ... and are all stopped

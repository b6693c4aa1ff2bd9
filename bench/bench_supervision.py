"""How long `velocitas up` takes to bring back a process or an embedded server killed with SIGKILL.

    python bench/bench_supervision.py              # 3 kills of each
    python bench/bench_supervision.py --rounds 1

One `velocitas up --workers 2` on fresh embedded PostgreSQL and Redis (a temporary
VELOCITAS_HOME). Each round kills, one at a time, worker1's main process, the gateway, the
embedded Redis and the PostgreSQL postmaster, and times from the SIGKILL until it serves again:

- worker1: its new process logs `ready` (consuming from the queue);
- gateway: a new gateway process answers `GET /health` with 200;
- redis: a new redis-server answers PING on the same Unix socket;
- postgres: a new postmaster answers `SELECT 1` on the same URL.

The supervisor polls every 0.2 s and waits 0.5 s before a first restart, so about 0.6 s of each
figure is the policy; the rest is the service's own start. Three rounds stay under the
crash-loop limit (5 restarts in a row without a minute's run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Callable[[], bool], timeout: float = 180.0) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError("did not come back")
        time.sleep(0.02)
    return time.monotonic() - started


def _child(up: subprocess.Popen[bytes], marker: str) -> int | None:
    for child in psutil.Process(up.pid).children():
        try:
            if marker in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        except psutil.NoSuchProcess:
            pass
    return None


def _health(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _postmaster(home: Path) -> list[str]:
    try:
        return (home / "pg" / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def _redis_pid(home: Path) -> int:
    registry = json.loads((home / "redis" / "redis.db.settings").read_text())
    try:
        return int(Path(registry["pidfile"]).read_text())
    except (OSError, ValueError):  # being rewritten by the new server
        return 0


def _answers(check: Callable[[], object]) -> bool:
    try:
        check()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vh-bench-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = home / "up.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"VELOCITAS_HOME": str(home), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "velocitas_cli.main", "up", "-w", "2", "-p", str(port)]
    with log_path.open("wb") as log:
        up = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        print(f"up serving after {_wait(lambda: _health(base), 300):.1f} s")
        lines = _postmaster(home)
        pg_url = f"postgresql://postgres:@/velocitas?host={lines[4]}"
        redis_socket = json.loads((home / "redis" / "redis.db.settings").read_text())["unixsocket"]
        _wait(lambda: "worker1@" in log_path.read_text() and _child(up, "worker1@%h") is not None)
        _wait(lambda: log_path.read_text().count(" ready.") >= 2)  # both workers consuming

        def worker_ready() -> float:
            seen = log_path.read_text().count(" ready.")
            os.kill(_child(up, "worker1@%h") or 0, signal.SIGKILL)
            return _wait(lambda: log_path.read_text().count(" ready.") > seen)

        def gateway() -> float:
            old = _child(up, "gateway.main:app")
            os.kill(old or 0, signal.SIGKILL)
            return _wait(
                lambda: _child(up, "gateway.main:app") not in (None, old) and _health(base)
            )

        def redis_server() -> float:
            client = redis.Redis(unix_socket_path=redis_socket, socket_timeout=0.5)
            old = _redis_pid(home)
            os.kill(old, signal.SIGKILL)
            return _wait(lambda: _redis_pid(home) != old and _answers(client.ping))

        def postgres() -> float:
            old = _postmaster(home)[0]
            os.kill(int(old), signal.SIGKILL)

            def select() -> object:
                with psycopg.connect(pg_url, connect_timeout=1) as conn:
                    return conn.execute("SELECT 1").fetchone()

            return _wait(lambda: _postmaster(home)[:1] not in ([], [old]) and _answers(select))

        cases = {"worker1": worker_ready, "gateway": gateway, "redis": redis_server}
        cases["postgres"] = postgres
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, kill in cases.items():
                times[name].append(kill())
                time.sleep(2)
        print(f"{'killed':<10} {'median s':>9} {'min s':>7} {'max s':>7}  (n={args.rounds})")
        for name, seconds in times.items():
            print(
                f"{name:<10} {statistics.median(seconds):>9.2f} "
                f"{min(seconds):>7.2f} {max(seconds):>7.2f}"
            )
        restarts = [line for line in log_path.read_text().splitlines() if "restarted" in line]
        print(f"{len(restarts)} restarts logged; `up` still running: {up.poll() is None}")
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=120)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

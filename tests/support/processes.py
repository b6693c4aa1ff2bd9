"""Subprocesses for tests: start one in the checkout, wait until it serves, stop it for sure.

Every process starts in a session of its own, so stopping it reaches the children it forked
(uvicorn's workers, Celery's pool, nginx's workers) and a test never leaves one behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from tests.support.waiting import wait_until

__all__ = [
    "REPO",
    "kill_process",
    "python_env",
    "running",
    "start_process",
    "stop_processes",
    "uvicorn",
    "wait_for_http",
]

REPO = Path(__file__).resolve().parents[2]
"""The checkout: subprocesses run in it and import its packages."""


def python_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with the checkout on `PYTHONPATH`, then `overrides`."""
    return {**os.environ, "PYTHONPATH": str(REPO), **overrides}


def uvicorn(app: str, port: int, *options: str) -> list[str]:
    """The command serving the ASGI `app` ("module:attribute") on 127.0.0.1:`port`."""
    return [
        sys.executable, "-m", "uvicorn", app,
        "--host", "127.0.0.1", "--port", str(port), *options,
    ]  # fmt: skip


def start_process(
    argv: Sequence[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in the checkout, in a new session; stdout and stderr go to `log` when given
    (kept for a failing test's report), else to the test's own."""
    if log is None:
        return subprocess.Popen(argv, cwd=REPO, env=dict(env), start_new_session=True)
    with log.open("ab") as out:  # the child holds its own descriptor: ours can close now
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_processes(*processes: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM each process's group, all at once, and wait for them; SIGKILL a group still
    there after `timeout` seconds (and what an exited leader left behind)."""
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        kill_process(process)


def kill_process(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its group: nothing in it gets to clean up."""
    _signal_group(process, signal.SIGKILL)
    process.wait(timeout=10)


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # The group may be gone already: its leader was reaped and no child is left.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextmanager
def running(
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path | None = None,
    stop_timeout: float = 15.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` started for the block and stopped after it, whatever happens inside."""
    process = start_process(argv, env, log)
    try:
        yield process
    finally:
        stop_processes(process, timeout=stop_timeout)


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until GET `url` answers 200; fails at once if `process`, the server, exits first."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server for {url} exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout, f"{url} answered 200", interval=0.1)

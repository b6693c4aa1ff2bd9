"""The platform as separate processes for deployment tests: gateways (uvicorn) and workers
(Celery) on one database, one Redis and one queue, logging JSON lines to files of their own."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http
from tests.worker.process import WorkerProcess

__all__ = ["Gateway", "Platform", "json_lines"]


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@dataclass
class Platform:
    """Processes sharing `database_url`, `redis_url` and a queue of the test's own."""

    database_url: str
    redis_url: str
    logs: Path
    queue: str = field(default_factory=lambda: f"deploy-{uuid.uuid4().hex[:12]}")

    def env(self, **extra: str) -> dict[str, str]:
        return python_env(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "VELOCITAS_JOBS_QUEUE": self.queue,
                "LOG_FORMAT": "json",
                **extra,
            }
        )

    @contextmanager
    def gateways(self, count: int, **extra: str) -> Iterator[list[Gateway]]:
        """`count` gateway processes, each answering `/ready`, stopped after the block."""
        with ExitStack() as stack:
            started = []
            for i in range(count):
                port, log = free_port(), self.logs / f"gateway{i + 1}.log"
                argv = uvicorn("gateway.main:app", port, "--timeout-graceful-shutdown", "30")
                process = stack.enter_context(running(argv, self.env(**extra), log, 40))
                started.append(Gateway(process, port, log))
            for gateway in started:  # generous: a loaded CI machine imports the gateway slowly
                wait_for_http(f"{gateway.url}/ready", gateway.process, timeout=120)
            yield started

    def workers(self, include: str = "tests.worker.sleepy_tasks", **extra: str) -> WorkerProcess:
        """A handle on worker processes (not started: `.start()` each); stop it after use."""
        handle = WorkerProcess(self.database_url, self.redis_url, self.queue, self.logs, include)
        handle.env.update({"LOG_FORMAT": "json", **extra})
        return handle


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a process's output (anything else it printed is skipped)."""
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue
    return lines

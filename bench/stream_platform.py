"""What the streaming benchmarks share: fresh embedded PostgreSQL and Redis under a temporary
VELOCITAS_HOME, one user owning N trading sessions, and the gateway under uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from fresh_stack import fresh_stack

from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.models.sessions import TradingSession

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Platform:
    ws_url: str
    headers: dict[str, str]
    sessions: list[uuid.UUID]
    redis_url: str
    gateway: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.gateway.terminate()
        self.gateway.wait(timeout=30)


def start(sessions: int, **gateway_env: str) -> Platform:
    env = {**fresh_stack(), **gateway_env}
    with session_scope() as db:
        created = create_user(db, "bench")
        rows = [
            TradingSession(owner_id=created.user.id, name=f"s{i}", spec={}, state="running")
            for i in range(sessions)
        ]
        db.add_all(rows)
        db.flush()
        ids = [row.id for row in rows]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.main:app", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
    return Platform(
        f"ws://127.0.0.1:{port}/ws",
        {"Authorization": f"Bearer {created.api_key}"},
        ids,
        env["REDIS_URL"],
        gateway,
    )


def load() -> str:
    """The machine's load averages (1, 5, 15 min), for the record beside each figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())

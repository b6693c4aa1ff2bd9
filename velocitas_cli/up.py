"""`velocitas up`: the whole platform on one machine, in the foreground.

The parent process boots the embedded PostgreSQL and Redis (or uses DATABASE_URL/REDIS_URL),
runs the migrations, then starts the gateway, the oracle (on port + 1, its URL given to the
gateway as ORACLE_URL), the analyst (on port + 2, as ANALYST_URL) and N Celery worker processes
with those URLs in their environment, so every child shares one set of servers. Each child's
output is printed with its service name in front. Ctrl-C or SIGTERM stops the children first
(SIGTERM, then SIGKILL after a grace period) and then the embedded servers, which stop when the
parent exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

import typer
from rich.markup import escape

from velocitas import embedded
from velocitas.db import migrate
from velocitas.jobs import jobs_queue
from velocitas_cli.output import console

_STOP_GRACE_S = 20.0
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")


@dataclass
class Service:
    name: str
    command: list[str]
    colour: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def services(workers: int, host: str, port: int) -> list[Service]:
    """What `up` runs: the gateway, the oracle (on port + 1), the analyst (on port + 2), then
    one Celery worker process per `workers`."""
    python = sys.executable
    gateway = [python, "-m", "uvicorn", "gateway.main:app", "--host", host, "--port", str(port)]
    oracle = [
        python, "-m", "uvicorn", "oracle.app:create_app", "--factory",
        "--host", host, "--port", str(port + 1),
    ]  # fmt: skip
    analyst = [
        python, "-m", "uvicorn", "analyst.app:create_app", "--factory",
        "--host", host, "--port", str(port + 2),
    ]  # fmt: skip
    result = [
        Service("gateway", gateway, _COLOURS[0]),
        Service("oracle", oracle, _COLOURS[-1]),
        Service("analyst", analyst, _COLOURS[-2]),
    ]
    for i in range(1, workers + 1):
        command = [
            python, "-m", "celery", "-A", "worker.app", "worker", "-Q", jobs_queue(),
            "-c", "1", "-n", f"worker{i}@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        result.append(Service(f"worker{i}", command, _COLOURS[i % len(_COLOURS)]))
    return result


def up(
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Celery worker processes."),
    port: int = typer.Option(8000, "--port", "-p", help="Gateway port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Gateway interface."),
) -> None:
    """Start the gateway and N workers on the embedded (or configured) servers; Ctrl-C stops all."""
    console.print(
        "[bold]velocitas up[/]: starting PostgreSQL and Redis (embedded unless configured)"
    )
    database_url = embedded.database_url()
    redis_url = embedded.redis_url()
    migrate.upgrade("head", database_url=database_url)
    oracle_url = f"http://{host}:{port + 1}"
    analyst_url = f"http://{host}:{port + 2}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ORACLE_URL": oracle_url,
        "ANALYST_URL": analyst_url,
    }
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    running = services(workers, host, port)
    for service in running:
        _start(service, env)
    console.print(
        f"[bold]gateway[/] on http://{host}:{port}, [bold]oracle[/] on {oracle_url}, "
        f"[bold]analyst[/] on {analyst_url}  "
        f"({workers} worker(s)); Ctrl-C stops"
    )
    exit_code = 0
    while not stop.wait(0.2):
        lost = [s for s in running if s.process is not None and s.process.poll() is not None]
        if lost:
            console.print(f"[bold red]{lost[0].name} exited on its own: stopping everything[/]")
            exit_code = 1
            break
    _stop_all(running)
    console.print("[bold]velocitas up[/]: all services stopped")
    raise typer.Exit(exit_code)


def _start(service: Service, env: dict[str, str]) -> None:
    service.process = subprocess.Popen(
        service.command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
    )
    assert service.process.stdout is not None
    threading.Thread(
        target=_relay, args=(service, service.process.stdout), daemon=True, name=service.name
    ).start()


def _relay(service: Service, stream: IO[bytes]) -> None:
    prefix = f"[{service.colour}]{service.name:<8}[/] | "
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        console.print(prefix + escape(line), highlight=False, soft_wrap=True)


def _stop_all(running: list[Service]) -> None:
    for service in running:
        if service.process is not None and service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for service in running:
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"[red]{service.name} did not stop in time: killed[/]")
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()

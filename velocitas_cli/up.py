"""`velocitas up`: the whole platform on one machine, in the foreground, kept running.

The parent process boots the embedded PostgreSQL and Redis (or uses DATABASE_URL/REDIS_URL),
runs the migrations, then starts the gateway, the oracle (on port + 1, its URL given to the
gateway as ORACLE_URL), the analyst (on port + 2, as ANALYST_URL), N Celery worker processes and
M trader processes (`--traders`: trading sessions, claimed through leases in PostgreSQL) with
those URLs in their environment, so every child shares one set of servers. Sessions that were
running when `up` stopped are resumed when it starts again: their leases were released (SIGTERM)
or expire (SIGKILL), and the traders' claim loop takes them from their journals. The oracle and
the analyst are internal (the gateway fronts them): they listen on loopback unless
`--internal-host` says otherwise. Each child's output is printed with its service name in front.

`up` supervises (velocitas_cli.supervisor): a child that dies, and an embedded server that dies,
is started again with backoff, the others untouched. Ctrl-C or SIGTERM stops the children
(SIGTERM, then SIGKILL after a grace period) and then the embedded servers, which stop when the
parent exits; so does a crash loop, with exit code 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import typer
from rich.markup import escape

from velocitas import embedded
from velocitas.db import migrate
from velocitas.jobs import jobs_queue
from velocitas.settings import get_settings
from velocitas_cli.output import console
from velocitas_cli.supervisor import Supervised, Supervisor, describe_exit

_STOP_GRACE_S = 20.0
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red")


@dataclass
class Service:
    name: str
    command: list[str]
    colour: str
    url: str = ""
    """Where it serves HTTP (its `/metrics` included)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment of its own, over the one every service shares."""
    metrics_dir: Path | None = None
    """Its multiprocess metrics directory, emptied before each start (workers)."""


def services(
    workers: int,
    host: str,
    port: int,
    internal_host: str = "127.0.0.1",
    home: Path | None = None,
    traders: int = 1,
) -> list[Service]:
    """What `up` runs: the gateway on `host`, the oracle (on port + 1) and the analyst (on
    port + 2) on `internal_host`, then one Celery worker process per `workers`, worker i
    serving its metrics on `internal_host`, port + 2 + i (kept under `home`/metrics/), then
    one trader process per `traders`, trader j serving its metrics on port + 2 + workers + j."""
    python = sys.executable
    gateway = [python, "-m", "uvicorn", "gateway.main:app", "--host", host, "--port", str(port)]
    oracle = [
        python, "-m", "uvicorn", "oracle.app:create_app", "--factory",
        "--host", internal_host, "--port", str(port + 1),
    ]  # fmt: skip
    analyst = [
        python, "-m", "uvicorn", "analyst.app:create_app", "--factory",
        "--host", internal_host, "--port", str(port + 2),
    ]  # fmt: skip
    internal = url_host(internal_host)
    result = [
        Service("gateway", gateway, _COLOURS[0], f"http://{url_host(host)}:{port}"),
        Service("oracle", oracle, _COLOURS[-1], f"http://{internal}:{port + 1}"),
        Service("analyst", analyst, _COLOURS[-2], f"http://{internal}:{port + 2}"),
    ]
    metrics_home = (home or get_settings().home) / "metrics"
    for i in range(1, workers + 1):
        command = [
            python, "-m", "celery", "-A", "worker.app", "worker", "-Q", jobs_queue(),
            "-c", "1", "-n", f"worker{i}@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        metrics_port = port + 2 + i
        directory = metrics_home / f"worker{i}"
        env = {
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "WORKER_METRICS_PORT": str(metrics_port),
            "WORKER_METRICS_HOST": internal_host,
        }
        url = f"http://{internal}:{metrics_port}"
        colour = _COLOURS[i % len(_COLOURS)]
        result.append(Service(f"worker{i}", command, colour, url, env, directory))
    for j in range(1, traders + 1):
        metrics_port = port + 2 + workers + j
        env = {"TRADER_METRICS_PORT": str(metrics_port), "TRADER_METRICS_HOST": internal_host}
        colour = _COLOURS[(workers + j) % len(_COLOURS)]
        url = f"http://{internal}:{metrics_port}"
        result.append(Service(f"trader{j}", [python, "-m", "trader"], colour, url, env))
    return result


def url_host(interface: str) -> str:
    """The host a client on this machine uses to reach a server listening on `interface`."""
    if interface in ("0.0.0.0", ""):
        return "127.0.0.1"
    if interface == "::":
        return "[::1]"
    return f"[{interface}]" if ":" in interface else interface


def up(
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Celery worker processes."),
    traders: int = typer.Option(
        1, "--traders", min=0, help="Trader processes (trading sessions, shared through leases)."
    ),
    port: int = typer.Option(8000, "--port", "-p", help="Gateway port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Gateway interface."),
    internal_host: str = typer.Option(
        "127.0.0.1",
        "--internal-host",
        help="Interface of the oracle and the analyst, which the gateway fronts (loopback: "
        "unreachable from other machines).",
    ),
) -> None:
    """Start the gateway, oracle, analyst, N workers and M traders on the embedded (or
    configured) servers; restart whatever dies; Ctrl-C stops all."""
    console.print(
        "[bold]velocitas up[/]: starting PostgreSQL and Redis (embedded unless configured)"
    )
    database_url = embedded.database_url()
    redis_url = embedded.redis_url()
    migrate.upgrade("head", database_url=database_url)
    planned = services(workers, host, port, internal_host, traders=traders)
    oracle_url, analyst_url = planned[1].url, planned[2].url
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
    children = [ChildProcess(s, env) for s in planned]
    try:
        for child in children:
            child.start()
    except BaseException:
        _stop_all(children)
        raise
    for service in planned:
        background = service.name.startswith(("worker", "trader"))  # no HTTP API of their own
        served = "metrics" if background else f"on {service.url}, metrics"
        console.print(
            f"[bold]{service.name:<8}[/] {served} on {service.url}/metrics", soft_wrap=True
        )
    console.print(
        f"[bold]velocitas up[/]: {workers} worker(s), {traders} trader(s) started; Ctrl-C stops"
    )
    servers: list[Supervised] = [ServerWatch(s) for s in embedded.servers_in_use()]
    supervisor = Supervisor([*children, *servers], report=_report)
    crash_loop = supervisor.run(stop)
    if crash_loop is not None:
        console.print(
            f"[bold red]velocitas up: {escape(crash_loop)}: stopping everything[/]", soft_wrap=True
        )
    _stop_all(children)
    console.print("[bold]velocitas up[/]: all services stopped")
    raise typer.Exit(0 if crash_loop is None else 1)


def _report(message: str) -> None:
    console.print(f"[bold yellow]velocitas up: {escape(message)}[/]", soft_wrap=True)


@dataclass
class ChildProcess:
    """One service run as a child process, in a session of its own (so Ctrl-C reaches only
    `up`, which stops the children in order, and what the child forks is stopped with it)."""

    service: Service
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.service.name

    def start(self) -> None:
        if self.service.metrics_dir is not None:  # a new process starts its counts at zero
            shutil.rmtree(self.service.metrics_dir, ignore_errors=True)
            self.service.metrics_dir.mkdir(parents=True)
        self.process = subprocess.Popen(
            self.service.command,
            env={**self.env, **self.service.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        threading.Thread(
            target=_relay, args=(self.service, self.process.stdout), daemon=True, name=self.name
        ).start()

    def exit_status(self) -> str | None:
        if self.process is None:
            return "never started"
        code = self.process.poll()
        if code is None:
            return None
        # What it forked outlives it (Celery's pool process): gone before the restart.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return describe_exit(code)


@dataclass
class ServerWatch:
    """An embedded server seen as a supervised unit: "starting" it restarts it in place."""

    server: embedded.EmbeddedServer

    @property
    def name(self) -> str:
        return self.server.name

    def start(self) -> None:
        self.server.restart()

    def exit_status(self) -> str | None:
        return None if self.server.is_running() else "no longer running"


def _relay(service: Service, stream: IO[bytes]) -> None:
    prefix = f"[{service.colour}]{service.name:<8}[/] | "
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        console.print(prefix + escape(line), highlight=False, soft_wrap=True)


def _stop_all(children: list[ChildProcess]) -> None:
    started = [(c.name, c.process) for c in children if c.process is not None]
    for _, process in started:
        if process.poll() is None:
            with suppress(ProcessLookupError):  # it may have died just now
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for name, process in started:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"[red]{name} did not stop in time: killed[/]")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

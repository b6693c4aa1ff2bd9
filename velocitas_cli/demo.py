"""The demo (`scripts/demo`, `python -m velocitas_cli.demo`): the whole product round trip, no
servers needed.

It starts `velocitas up --traders 1` (embedded PostgreSQL and Redis under VELOCITAS_HOME,
migrations, gateway, oracle, analyst, one worker, one trader), creates a data-writer user, loads
synthetic bars through
`POST /bars` and sample news through `velocitas analyst ingest`, listens on the WebSocket, submits
an SMA-cross backtest over REST, prints the events as they arrive and then the report, asks the
analyst for the sentiment through the gateway, runs a trading session through the trader
(REST + `/ws`, `velocitas_cli.demo_session`), and stops `up` with Ctrl-C (SIGINT). Every step
prints a numbered headline and its time. Running it again is safe: the bars and news are already
stored (nothing changes) and each run creates its own user.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import typer
from rich.markup import escape
from rich.table import Table
from websockets.sync.client import ClientConnection, connect

from velocitas.synth import DEFAULT_START
from velocitas_cli.demo_session import SESSION_BARS, SPEED, SessionFailed, stream_session
from velocitas_cli.output import console, emit_json, err_console

REPO = Path(__file__).resolve().parents[1]
SYMBOL = "SYN"
TIMEFRAME = "1m"
_LOG_TAIL_LINES = 40
_METRICS = (
    "total_return", "buy_and_hold_return", "cagr", "sharpe", "sortino", "max_drawdown",
    "win_rate", "profit_factor", "expectancy", "exposure", "fees_paid",
)  # fmt: skip


class DemoFailed(Exception):
    """A step did not do what it should; the message says what."""


class Demo:
    """One run: the `up` process, the gateway's address, the API key and the step counter."""

    def __init__(self, home: Path, port: int, quiet: bool) -> None:
        self.home = home
        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        self.quiet = quiet
        self.log_path = home / "demo-up.log"
        self.env = {**os.environ, "VELOCITAS_HOME": str(home), "PYTHONPATH": str(REPO)}
        self.up: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}
        self.steps = 0
        self.timings: dict[str, float] = {}

    def say(self, *objects: Any) -> None:
        if not self.quiet:
            console.print(*objects, highlight=False)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.steps += 1
        self.say(f"\n[bold cyan]{self.steps}. {title}[/]")
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.timings[title] = round(elapsed, 3)
        self.say(f"   [dim]done in {elapsed:.2f} s[/]")

    def cli(self, *args: str, timeout: float = 300) -> Any:
        """Run `velocitas ARGS --json` against the same home; its JSON answer."""
        command = [sys.executable, "-m", "velocitas_cli.main", *args, "--json"]
        done = subprocess.run(
            command, cwd=REPO, env=self.env, capture_output=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise DemoFailed(
                f"`velocitas {' '.join(args)}` exited with {done.returncode}: "
                f"{done.stderr.decode(errors='replace').strip()[-2000:]}"
            )
        return orjson.loads(done.stdout)

    def start_up(self, workers: int, log: IO[bytes]) -> None:
        command = [
            sys.executable, "-m", "velocitas_cli.main", "up",
            "--workers", str(workers), "--traders", "1", "--port", str(self.port),
        ]  # fmt: skip
        self.up = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        # /ready, not /health: the gateway answers before its database and Redis may.
        self.wait_for(f"{self.base}/ready", 240, "the gateway")
        self.wait_for(f"http://127.0.0.1:{self.port + 2}/ready", 60, "the analyst")

    def wait_for(self, url: str, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.up is not None and self.up.poll() is not None:
                raise DemoFailed(f"`velocitas up` exited with {self.up.returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise DemoFailed(f"{what} did not answer {url} within {timeout:.0f} s")

    def stop_up(self) -> int | None:
        """SIGINT (Ctrl-C) to `up`, which stops its services in order; its exit code."""
        if self.up is None or self.up.poll() is not None:
            return None if self.up is None else self.up.returncode
        self.up.send_signal(signal.SIGINT)
        try:
            return self.up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.up.pid, signal.SIGKILL)
            self.up.wait()
            raise DemoFailed("`velocitas up` did not stop within 60 s of Ctrl-C: killed") from None

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "(no service log)"
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def request(
        self,
        method: str,
        path: str,
        expect: int | tuple[int, ...],
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        headers = {**self.headers, **(headers or {})}
        response = httpx.request(method, self.base + path, headers=headers, **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in wanted:
            raise DemoFailed(
                f"{method} {path} answered {response.status_code}: {response.text[:2000]}"
            )
        return response


def _free_port_block(first: int) -> int:
    """A port P with P, P+1 and P+2 free (gateway, oracle, analyst), from `first` upwards."""
    for port in range(first, first + 300, 3):
        try:
            for offset in range(3):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise DemoFailed(f"no three free ports from {first}")


def _events_until_done(
    ws: ClientConnection, job_id: str, timeout: float
) -> Iterator[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DemoFailed(f"no final event for job {job_id} within {timeout:.0f} s")
        try:
            event = orjson.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if event.get("job_id") != job_id:
            continue
        yield event
        if event["type"] in ("job.succeeded", "job.failed", "job.cancelled"):
            return


def _spec(first: datetime, bars: int) -> dict[str, Any]:
    return {
        "symbol": SYMBOL,
        "timeframe": TIMEFRAME,
        "start": first.isoformat().replace("+00:00", "Z"),
        "end": (first + timedelta(minutes=bars)).isoformat().replace("+00:00", "Z"),
        "initial_cash": "100000",
        "strategy": {"name": "sma_cross", "params": {"fast": 20, "slow": 100}},
        "fees": {"rate": "0.001", "fixed": "0"},
        "slippage_bps": "1",
        "sizing": {"mode": "fraction_of_equity", "value": "0.5"},
        "stops": {"stop_loss": {"kind": "percent", "value": "0.02"}},
    }


def _print_report(demo: Demo, job: dict[str, Any]) -> None:
    summary = job["summary"]
    head = Table(title=f"backtest {job['id']}", show_header=False)
    head.add_column("field")
    head.add_column("value", justify="right")
    for label, value in (
        ("status", job["status"]),
        ("bars", summary.get("bar_count")),
        ("trades", summary.get("trade_count")),
        ("initial cash", summary["initial_cash"]),
        ("final equity", summary["final_equity"]),
        ("engine", job.get("engine_version")),
        ("data snapshot", (job.get("data_snapshot_hash") or "")[:16]),
    ):
        head.add_row(label, escape(str(value)))
    metrics = Table(title="metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name in _METRICS:
        value = summary.get("metrics", {}).get(name)
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        metrics.add_row(name, shown)
    legs = Table(title="P&L by leg (decimal strings, exact)")
    by_leg = summary.get("breakdown", {}).get("by_leg", {})
    columns = sorted({key for row in by_leg.values() for key in row})
    legs.add_column("leg")
    for column in columns:
        legs.add_column(column, justify="right", overflow="fold")
    for leg, row in by_leg.items():
        legs.add_row(leg, *(escape(str(row.get(column, ""))) for column in columns))
    demo.say(head, metrics, legs)


def run_demo(bars: int, workers: int, port: int, home: Path, quiet: bool) -> dict[str, Any]:
    """The round trip; returns what a script needs to check it. Raises DemoFailed."""
    demo = Demo(home, _free_port_block(port), quiet)
    home.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, Any] = {
        "home": str(home),
        "gateway": demo.base,
        "dashboard": f"{demo.base}/",
    }
    with demo.log_path.open("ab") as log:
        try:
            with demo.step(f"Start `velocitas up --workers {workers}` and wait for /ready"):
                demo.start_up(workers, log)
                demo.say(f"   gateway {demo.base}; service log {demo.log_path}")
                # The web app (docs/web.md): sign in with the key the next step prints.
                page = demo.request("GET", "/", 200).text  # served without a key
                outcome["dashboard_served"] = "<title>Velocitas</title>" in page
                demo.say(
                    f"   dashboard {demo.base}/ (while the demo runs; `velocitas up` serves it)"
                )
            with demo.step("Create a data-writer user and get an API key (every route needs one)"):
                name = f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}-{os.getpid()}"
                # The demo uploads bars, which only a data-writer may do (docs/data.md).
                user = demo.cli("user", "create", name, "--role", "data-writer")
                demo.headers = {"Authorization": f"Bearer {user['api_key']}"}
                demo.say(f"   user {name}: key {user['api_key'][:12]}... (shown once)")
            _load_data(demo, bars, outcome)
            _round_trip(demo, bars, outcome)
            with demo.step(
                f"A trading session through the trader: POST /sessions over the first "
                f"{min(bars, SESSION_BARS):,} bars at x{SPEED:,} (one SMA leg, 1% stop), "
                "/start, follow /ws, one manual market order, final P&L"
            ):
                outcome["session"] = stream_session(
                    demo.base, demo.headers, SYMBOL, DEFAULT_START, bars, demo.say
                )
            with demo.step("Stop `velocitas up` with Ctrl-C (SIGINT)"):
                code = demo.stop_up()
                if code != 0:
                    raise DemoFailed(f"`velocitas up` exited with {code} on Ctrl-C")
        except Exception as exc:
            demo.stop_up()
            reason = (
                str(exc)
                if isinstance(exc, DemoFailed | SessionFailed)
                else f"{type(exc).__name__}: {exc}"
            )
            tail = demo.log_tail()
            raise DemoFailed(f"{reason}\n--- service log (last lines) ---\n{tail}") from exc
        except KeyboardInterrupt:
            demo.stop_up()
            raise
    outcome["timings_s"] = demo.timings
    return outcome


def _load_data(demo: Demo, bars: int, outcome: dict[str, Any]) -> None:
    first = DEFAULT_START
    with demo.step(f"Synthesise {bars:,} one-minute bars of {SYMBOL} and POST /bars"):
        with tempfile.TemporaryDirectory() as scratch:
            csv = Path(scratch) / "syn.csv"
            demo.cli("data", "synth", "--symbol", SYMBOL, "--timeframe", TIMEFRAME,
                     "--bars", str(bars), "--seed", "7", "--out", str(csv))  # fmt: skip
            stored = demo.request(
                "POST", "/bars", (200, 201), content=csv.read_bytes(), timeout=600,
                params={"symbol": SYMBOL, "timeframe": TIMEFRAME},
                headers={"Content-Type": "text/csv"},
            ).json()  # fmt: skip
        demo.say(
            f"   read {stored['read']:,}, inserted {stored['inserted']:,}, "
            f"unchanged {stored['unchanged']:,} ({stored['first_opened_at']} .. "
            f"{stored['last_opened_at']})"
        )
        outcome["bars"] = stored
    with demo.step("Generate the sample news and ingest it (embedded into pgvector)"):
        end = first + timedelta(minutes=bars)
        with tempfile.TemporaryDirectory() as scratch:
            news = Path(scratch) / "news.jsonl"
            demo.cli("analyst", "sample-news", "--out", str(news), "--start", first.isoformat(),
                     "--end", end.isoformat(), "--per-day", "1")  # fmt: skip
            ingested = demo.cli("analyst", "ingest", str(news))
        demo.say(f"   {ingested}")
        outcome["news"] = ingested


def _round_trip(demo: Demo, bars: int, outcome: dict[str, Any]) -> None:
    ws_url = demo.base.replace("http://", "ws://") + "/ws"
    with ExitStack() as stack:
        with demo.step("Open the WebSocket /ws (key in the Authorization header)"):
            ws = stack.enter_context(
                connect(ws_url, additional_headers=demo.headers, open_timeout=10)
            )
            ready = orjson.loads(ws.recv(timeout=10))
            if ready.get("type") != "ready":
                raise DemoFailed(f"the WebSocket said {ready} instead of ready")
            demo.say("   subscribed: {'type': 'ready'}")
        with demo.step("POST /backtests: SMA cross 20/100, 0.1% fees, 1 bp slippage, 2% stop"):
            accepted = demo.request(
                "POST", "/backtests", 202, json=_spec(DEFAULT_START, bars), timeout=30
            )
            job_id = accepted.json()["id"]
            demo.say(
                f"   {accepted.status_code} Accepted, Location: {accepted.headers['Location']}"
            )
        with demo.step("Events over the WebSocket as they arrive"):
            started = time.perf_counter()
            events = []
            for event in _events_until_done(ws, job_id, timeout=300):
                events.append(event["type"])
                demo.say(
                    f"   +{time.perf_counter() - started:6.3f} s  {event['type']:<14} "
                    f"progress {event.get('progress', 0):.2f}"
                )
            outcome["events"] = events
            if events[-1] != "job.succeeded":
                raise DemoFailed(f"the job ended with {events[-1]}")
    with demo.step(f"GET /backtests/{job_id}: the report"):
        job = demo.request("GET", f"/backtests/{job_id}", 200, timeout=30).json()
        _print_report(demo, job)
        outcome["job"] = {key: job.get(key) for key in ("id", "status", "summary")}
    with demo.step(f"GET /sentiment?symbol={SYMBOL}: news sentiment at the end of the data"):
        at = (DEFAULT_START + timedelta(minutes=bars)).isoformat().replace("+00:00", "Z")
        sentiment = demo.request(
            "GET", "/sentiment", 200, params={"symbol": SYMBOL, "at": at}, timeout=60
        ).json()
        demo.say(f"   {sentiment}")
        outcome["sentiment"] = sentiment


def main(
    bars: int = typer.Option(200_000, "--bars", min=1_000, help="One-minute bars of SYN."),
    workers: int = typer.Option(1, "--workers", min=1, help="Celery worker processes."),
    port: int = typer.Option(8000, "--port", help="First port to try (gateway; +1, +2 too)."),
    json: bool = typer.Option(False, "--json", help="Print the outcome as JSON for scripts."),
) -> None:
    """Boot everything, load sample data, run a backtest over REST + WebSocket, print it."""
    home = Path(os.environ.get("VELOCITAS_HOME", REPO / ".velocitas")).resolve()
    started = time.perf_counter()
    try:
        outcome = run_demo(bars, workers, port, home, quiet=json)
    except DemoFailed as exc:
        err_console.print(f"[bold red]demo failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    outcome["total_s"] = round(time.perf_counter() - started, 3)
    if json:
        emit_json(outcome)
    else:
        console.print(f"\n[bold green]demo done in {outcome['total_s']:.1f} s[/]")


if __name__ == "__main__":
    typer.run(main)

"""`velocitas session start | list | show | pause | resume | stop | kill | order | watch`.

Sessions run in the platform's traders, so these commands talk to the gateway's REST API
(docs/sessions.md, "REST API"): `--url` (or `VELOCITAS_URL`, default http://127.0.0.1:8000)
with the API key of `--key` (or `VELOCITAS_API_KEY`; `velocitas user create NAME` prints one).
Bad input exits 2, an unknown session 3, anything else refused 1.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from velocitas_cli.output import (
    EXIT_FAILURE,
    EXIT_INVALID_INPUT,
    EXIT_NOT_FOUND,
    JsonOption,
    cell,
    console,
    emit_json,
    fail,
    new_table,
    table,
)

app = typer.Typer(
    help="Trading sessions on a running gateway: start, list, show, pause, resume, stop, "
    "kill, watch.\n\nCommands talk to the gateway's REST API: --url (VELOCITAS_URL) with the "
    "API key --key (VELOCITAS_API_KEY).",
    no_args_is_help=True,
)

DEFAULT_URL = "http://127.0.0.1:8000"
ENDED = frozenset({"stopped", "killed", "finished", "failed"})

UrlOption = typer.Option(DEFAULT_URL, "--url", envvar="VELOCITAS_URL", help="The gateway.")
KeyOption = typer.Option(
    None, "--key", envvar="VELOCITAS_API_KEY", help="Your API key.", show_default=False
)
ReasonOption = typer.Option(None, "--reason", help="Why (journaled with the state change).")
SpecOption = typer.Option(
    None, "--spec", help="A session spec as JSON (POST /sessions' body); flags override it."
)
LegOption = typer.Option([], "--leg", help="Another leg: SYMBOL:STRATEGY[:k=v,k=v] (repeat).")
ParamOption = typer.Option([], "--param", help="Strategy parameter NAME=VALUE (repeat).")


class Gateway:
    """The gateway's REST API as this user: JSON in and out, errors turned into exits."""

    def __init__(self, url: str, key: str | None) -> None:
        if not key:
            fail(
                "no API key: pass --key or set VELOCITAS_API_KEY (`velocitas user create NAME` "
                "prints one)",
                code=EXIT_INVALID_INPUT,
            )
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            fail(f"cannot reach the gateway at {self.url}: {exc}", code=EXIT_FAILURE)
        if response.status_code >= 400:
            _refused(response)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)


def _refused(response: httpx.Response) -> NoReturn:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):  # a 422: where, and why
        detail = "; ".join(
            f"{'.'.join(str(p) for p in problem.get('loc', [])[1:]) or 'body'}: {problem['msg']}"
            for problem in detail
        )
    code = {422: EXIT_INVALID_INPUT, 404: EXIT_NOT_FOUND}.get(response.status_code, EXIT_FAILURE)
    fail(f"{response.status_code}: {escape(str(detail))}", code=code)


@app.command()
def start(
    spec_file: Path | None = SpecOption,
    symbol: str | None = typer.Option(None, "--symbol", help="Symbol of the (first) leg."),
    strategy: str | None = typer.Option(None, "--strategy", help="Strategy of the first leg."),
    param: list[str] = ParamOption,
    leg: list[str] = LegOption,
    timeframe: str | None = typer.Option(None, "--timeframe", help="Bar length: 1m, 1h, 1d."),
    start_at: str | None = typer.Option(None, "--start", help="First bar's time (ISO-8601)."),
    end_at: str | None = typer.Option(None, "--end", help="End, exclusive (ISO-8601)."),
    name: str | None = typer.Option(None, "--name", help="A name to recognise it by."),
    speed: str | None = typer.Option(None, "--speed", help="Real time x N, or 'max'."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the intrabar ticks."),
    cash: str | None = typer.Option(None, "--cash", help="Initial cash."),
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Create a session from --spec and/or flags, and start it."""
    body = _start_body(spec_file, symbol, strategy, param, leg, timeframe, start_at, end_at)
    given = {"name": name, "seed": seed, "initial_cash": cash}
    body |= {k: v for k, v in given.items() if v is not None}
    if speed is not None:
        body["speed"] = speed if speed == "max" else _number(speed, "--speed")
    gateway = Gateway(url, key)
    created = gateway.post("/sessions", body)
    session = gateway.post(f"/sessions/{created['id']}/start")
    _print_session(session, json)


def _start_body(
    spec_file: Path | None,
    symbol: str | None,
    strategy: str | None,
    params: Sequence[str],
    legs: Sequence[str],
    timeframe: str | None,
    start_at: str | None,
    end_at: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if spec_file is not None:
        try:
            body = jsonlib.loads(spec_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"--spec {spec_file}: {exc}", code=EXIT_INVALID_INPUT)
        if not isinstance(body, dict):
            fail(f"--spec {spec_file}: not a JSON object", code=EXIT_INVALID_INPUT)
    if symbol or strategy or params or legs:
        body.pop("symbol", None)
        body.pop("strategy", None)
        body["legs"] = _legs(symbol, strategy, params, legs)
    given = {"timeframe": timeframe, "start": start_at, "end": end_at}
    body |= {k: v for k, v in given.items() if v is not None}
    missing = [f"--{k}" for k in ("legs", "timeframe", "start", "end") if k not in body]
    if "--legs" in missing and "symbol" in body:  # the one-leg shorthand
        missing.remove("--legs")
    if missing:
        what = ", ".join(m if m != "--legs" else "--symbol/--strategy or --leg" for m in missing)
        fail(f"give --spec FILE or the flags {what}", code=EXIT_INVALID_INPUT)
    return body


def _legs(
    symbol: str | None, strategy: str | None, params: Sequence[str], legs: Sequence[str]
) -> list[dict[str, Any]]:
    # The backtest commands' spelling of legs and parameters (velocitas_cli.backtest_spec);
    # imported here: it brings the strategy registry, which the other commands never need.
    from velocitas.errors import InvalidRequest
    from velocitas_cli.backtest_spec import spec_request

    try:
        request = spec_request(
            symbol=symbol, strategy=strategy, params=params, legs=legs, timeframe="",
            start=None, end=None, allow_short=False,
        )  # fmt: skip
    except InvalidRequest as exc:
        fail(str(exc), code=EXIT_INVALID_INPUT)
    return [_plain(leg) for leg in request["legs"]]


def _plain(value: Any) -> Any:
    """`value` with what JSON cannot hold (Decimal, datetime) as strings."""
    return jsonlib.loads(jsonlib.dumps(value, default=str))


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        fail(f"{option}: {text!r} is neither a number nor 'max'", code=EXIT_INVALID_INPUT)


@app.command("list")
def list_sessions(
    state: str | None = typer.Option(None, "--state", help="Only sessions in this state."),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="How many, newest first."),
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Your sessions, newest first."""
    page = Gateway(url, key).get("/sessions", state=state, limit=limit)
    if json:
        emit_json(page["items"])
        return
    rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "state": s["state"],
            "progress": f"{s['progress']:.0%}",
            "clock": s["clock"],
            "created": s["created_at"],
        }
        for s in page["items"]
    ]
    table("sessions", rows, ["id", "name", "state", "progress", "clock", "created"])


@app.command()
def show(
    session_id: str = typer.Argument(..., help="The session's id."),
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """A session: its state and why, progress, positions and P&L."""
    gateway = Gateway(url, key)
    view = _snapshot(gateway, session_id)
    if json:
        emit_json({"session": view.session, "positions": view.positions, "pnl": view.pnl})
        return
    console.print(_render(view))


def _change(action: str, session_id: str, reason: str | None, gw: Gateway, json: bool) -> None:
    body = {"reason": reason} if reason else None
    _print_session(gw.post(f"/sessions/{session_id}/{action}", body), json)


@app.command()
def pause(
    session_id: str = typer.Argument(..., help="The session's id."),
    reason: str | None = ReasonOption,
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Pause a running session (its replay clock stops)."""
    _change("pause", session_id, reason, Gateway(url, key), json)


@app.command()
def resume(
    session_id: str = typer.Argument(..., help="The session's id."),
    reason: str | None = ReasonOption,
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Resume a paused session."""
    _change("resume", session_id, reason, Gateway(url, key), json)


@app.command()
def stop(
    session_id: str = typer.Argument(..., help="The session's id."),
    reason: str | None = ReasonOption,
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Stop a session: open orders cancelled, positions kept."""
    _change("stop", session_id, reason, Gateway(url, key), json)


@app.command()
def speed(
    session_id: str = typer.Argument(..., help="The session's id."),
    value: str = typer.Argument(..., help="Real time x N (e.g. 60), or max."),
    reason: str | None = ReasonOption,
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Change a session's replay speed (from its next tick batch on)."""
    body: dict[str, Any] = {"speed": value if value == "max" else _number(value, "speed")}
    if reason:
        body["reason"] = reason
    _print_session(Gateway(url, key).post(f"/sessions/{session_id}/speed", body), json)


@app.command()
def kill(
    session_id: str | None = typer.Argument(None, help="The session's id."),
    every: bool = typer.Option(False, "--all", help="Every user's sessions (admin only)."),
    reason: str | None = ReasonOption,
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Kill a session, or with --all every running or paused one (admin only).

    Open orders are cancelled, every position is flattened at the next tick, and the session
    halts."""
    if (session_id is None) == (not every):
        fail("give a session id, or --all (not both)", code=EXIT_INVALID_INPUT)
    gateway = Gateway(url, key)
    if session_id is not None:
        _change("kill", session_id, reason, gateway, json)
        return
    killed = gateway.post("/sessions/kill-all", {"reason": reason} if reason else None)
    if json:
        emit_json(killed)
        return
    console.print(f"killed {len(killed)} session(s)")
    for session in killed:
        console.print(f"  {session['id']} {escape(session['name'])}", highlight=False)


PriceOption = typer.Option(None, help="A price level (decimal).", show_default=False)


@app.command()
def order(
    session_id: str = typer.Argument(..., help="The session's id."),
    side: str = typer.Argument(..., help="buy or sell."),
    quantity: str = typer.Argument(..., help="How many units (decimal)."),
    symbol: str | None = typer.Option(None, "--symbol", help="Default: the session's first."),
    limit: str | None = typer.Option(None, "--limit", help="A limit order at this price."),
    stop_loss: str | None = PriceOption,
    take_profit: str | None = PriceOption,
    trailing_stop: str | None = typer.Option(None, help="A price distance from the best price."),
    client_order_id: str | None = typer.Option(None, help="Makes a retry place one order."),
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """Place a manual order (market, or limit with --limit) in the session's manual book."""
    gateway = Gateway(url, key)
    if symbol is None:
        symbol = gateway.get(f"/sessions/{session_id}")["spec"]["legs"][0]["symbol"]
    body = {
        "symbol": symbol,
        "side": side,
        "type": "market" if limit is None else "limit",
        "quantity": quantity,
        "limit_price": limit,
        "stop_loss": stop_loss,
        "take_profit": take_profit,
        "trailing_stop": trailing_stop,
        "client_order_id": client_order_id,
    }
    placed = gateway.post(
        f"/sessions/{session_id}/orders", {k: v for k, v in body.items() if v is not None}
    )
    if json:
        emit_json(placed)
        return
    price = f" at {placed['limit_price']}" if placed["limit_price"] else ""
    console.print(
        f"order {placed['id']}: {placed['side']} {placed['quantity']} "
        f"{escape(placed['symbol'])} {placed['type']}{price}: {placed['status']}",
        highlight=False,
    )


def _print_session(session: Mapping[str, Any], json: bool) -> None:
    if json:
        emit_json(session)
        return
    reason = f" ({session['reason']})" if session.get("reason") else ""
    console.print(
        f"session {session['id']} [bold]{escape(session['name'])}[/]: "
        f"{session['state']}{escape(reason)}",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------
# watch


@dataclass
class Snapshot:
    """What the watch table shows, refreshed each poll; `prices` and `after` carry over."""

    session: dict[str, Any] = field(default_factory=dict)
    positions: list[dict[str, Any]] = field(default_factory=list)
    pnl: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, str] = field(default_factory=dict)
    after: int | None = None


PRICE_WINDOW = 1000
"""A watch starting on a long session reads only this many last events for the prices."""


def _snapshot(gateway: Gateway, session_id: str, last: Snapshot | None = None) -> Snapshot:
    view = last or Snapshot()
    view.session = gateway.get(f"/sessions/{session_id}")
    after = view.after
    if after is None:
        after = max(view.session["last_seq"] - PRICE_WINDOW, 0)
    while True:  # the journal since the last poll: the latest price of each symbol
        page = gateway.get(f"/sessions/{session_id}/events", after=after, limit=PRICE_WINDOW)
        for message in page["events"]:
            event = message["event"]
            if event["type"] == "bar.closed":
                view.prices[event["symbol"]] = event["close"]
            elif event["type"] == "bars.closed":  # a run of quiet bars (speed max)
                view.prices[event["symbol"]] = event["close"][-1]
            elif event["type"] == "fill":
                view.prices[event["symbol"]] = event["price"]
            after = message["seq"]
        if not page["events"] or after >= page["last_seq"]:
            break
    view.after = after
    view.positions = gateway.get(f"/sessions/{session_id}/positions")
    view.pnl = gateway.get(f"/sessions/{session_id}/pnl")
    return view


def _render(view: Snapshot) -> Group:
    session, pnl = view.session, view.pnl
    reason = f" ({session['reason']})" if session.get("reason") else ""
    head = Text.assemble(
        (f"{session['name']} ", "bold"),
        f"{session['state']}{reason}  clock {_clock(session['clock'])}  "
        f"{session['progress']:.0%}  equity {pnl['equity']}  P&L {pnl['total']}",
    )
    held = {(p["leg"], p["symbol"]): p for p in view.positions}
    legs = [
        (leg["leg"], leg["symbol"], leg["strategy"]["name"]) for leg in _legs_of(session["spec"])
    ]
    legs += [(None, s, "manual") for (k, s) in held if k is None]
    pnl_of = {(row["leg"], row["symbol"]): row for row in pnl["legs"]}
    view_table = new_table("legs")
    for column in ("leg", "symbol", "strategy", "price", "position", "realised", "unrealised"):
        view_table.add_column(
            column, justify="left" if column in {"symbol", "strategy"} else "right"
        )
    for index, symbol, strategy in legs:
        position = held.get((index, symbol))
        row = pnl_of.get((index, symbol), {})
        view_table.add_row(
            "-" if index is None else str(index),
            escape(symbol),
            escape(strategy),
            view.prices.get(symbol, ""),
            _position(position),
            row.get("realised", ""),
            row.get("unrealised", ""),
        )
    view_table.add_row("", "all", "", "", "", pnl["realised"], pnl["unrealised"])
    return Group(head, view_table)


def _clock(text: str | None) -> str:
    return "-" if text is None else cell(datetime.fromisoformat(text))


def _legs_of(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"leg": i, **leg} for i, leg in enumerate(spec["legs"])]


def _position(position: Mapping[str, Any] | None) -> str:
    if position is None or position["side"] == "flat":
        return "flat"
    return f"{position['side']} {cell(position['quantity'])} @ {cell(position['average_price'])}"


@app.command()
def watch(
    session_id: str = typer.Argument(..., help="The session's id."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between polls."),
    url: str = UrlOption,
    key: str | None = KeyOption,
    json: bool = JsonOption,
) -> None:
    """A live table of the session: price, position and P&L per leg.

    Redrawn every --interval seconds until the session ends, or Ctrl-C; --json prints one
    snapshot a line instead."""
    gateway = Gateway(url, key)
    view = _snapshot(gateway, session_id)
    try:
        if json:
            while True:
                line = {"session": view.session, "positions": view.positions, "pnl": view.pnl}
                typer.echo(jsonlib.dumps(line, separators=(",", ":")))
                if view.session["state"] in ENDED:
                    return
                time.sleep(interval)
                view = _snapshot(gateway, session_id, view)
        with Live(_render(view), console=console, auto_refresh=False) as live:
            while view.session["state"] not in ENDED:
                time.sleep(interval)
                view = _snapshot(gateway, session_id, view)
                live.update(_render(view), refresh=True)
    except KeyboardInterrupt:
        return

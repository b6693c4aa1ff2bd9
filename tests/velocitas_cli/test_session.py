"""`velocitas session ...` against a live gateway (uvicorn in its own process) on a fresh
database: start from flags and from a spec file, list, show, pause/resume/stop/kill, the
admin's `kill --all`, `watch` until the session ends, and the exits for bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.gateway.conftest import T0, store_bars
from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.journal import append_events
from velocitas.domain.roles import Role
from velocitas.domain.session_events import BarClosed, LegPnl, PnlSnapshot, PositionChanged
from velocitas_cli.main import app

runner = CliRunner()

FLAGS = [
    "--symbol", "BTCUSDT", "--strategy", "sma_cross", "--param", "fast=5", "--param", "slow=20",
    "--timeframe", "1h", "--start", "2024-01-01", "--end", "2024-01-05",
]  # fmt: skip


@dataclass(frozen=True)
class Live:
    url: str


@pytest.fixture
def gateway(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Live]:
    port = free_port()
    env = python_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    argv = uvicorn("gateway.main:app", port)
    with running(argv, env, tmp_path / "gateway.log", stop_timeout=10) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/health", process, timeout=90)
        yield Live(url)


def _key(name: str, role: Role = Role.USER) -> str:
    with session_scope() as session:
        return create_user(session, name, role).api_key


def _cli(live: Live, key: str, *args: str) -> Any:
    result = runner.invoke(
        app, ["session", *args], env={"VELOCITAS_URL": live.url, "VELOCITAS_API_KEY": key}
    )
    return result


def _json(live: Live, key: str, *args: str) -> Any:
    result = _cli(live, key, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.slow
def test_session_lifecycle_through_the_cli(gateway: Live, tmp_path: Path) -> None:
    store_bars("BTCUSDT")
    alice = _key("alice")
    started = _json(gateway, alice, "start", *FLAGS, "--name", "cli run", "--speed", "max")
    assert (started["state"], started["name"], started["spec"]["speed"]) == (
        "running", "cli run", "max",
    )  # fmt: skip
    assert started["spec"]["legs"][0]["strategy"]["params"] == {"fast": 5, "slow": 20}

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "symbol": "BTCUSDT", "strategy": {"name": "sma_cross"}, "timeframe": "1h",
        "start": "2024-01-02T00:00:00Z", "end": "2024-01-04T00:00:00Z", "seed": 3,
    }))  # fmt: skip
    second = _json(gateway, alice, "start", "--spec", str(spec), "--speed", "60")
    assert (second["spec"]["speed"], second["spec"]["seed"]) == (60.0, 3)

    listed = _json(gateway, alice, "list")
    assert [s["id"] for s in listed] == [second["id"], started["id"]]
    table = _cli(gateway, alice, "list")
    assert table.exit_code == 0
    assert "cli run" in table.output

    sid = started["id"]
    placed = _json(gateway, alice, "order", sid, "buy", "0.5", "--limit", "101.25",
                   "--client-order-id", "c-1")  # fmt: skip
    assert (placed["type"], placed["symbol"], placed["status"]) == ("limit", "BTCUSDT", "new")
    again = _json(gateway, alice, "order", sid, "buy", "0.5", "--limit", "101.25",
                  "--client-order-id", "c-1")  # fmt: skip
    assert again["id"] == placed["id"]
    bad = _cli(gateway, alice, "order", sid, "buy", "0")
    assert bad.exit_code == 2
    assert "quantity" in bad.output
    assert _json(gateway, alice, "pause", sid, "--reason", "lunch")["reason"] == "lunch"
    assert _json(gateway, alice, "resume", sid)["state"] == "running"
    refused = _cli(gateway, alice, "resume", sid)
    assert refused.exit_code == 1
    assert "409" in refused.output
    assert "cannot resume" in refused.output
    assert _json(gateway, alice, "stop", sid)["state"] == "stopped"
    assert _json(gateway, alice, "kill", second["id"])["state"] == "killed"
    shown = _json(gateway, alice, "show", sid)
    assert shown["session"]["state"] == "stopped"
    assert shown["pnl"]["equity"] == "10000"


@pytest.mark.slow
def test_session_cli_exit_codes_for_bad_input_and_other_users(gateway: Live) -> None:
    store_bars("BTCUSDT")
    alice, bob = _key("alice"), _key("bob")
    unknown = _cli(gateway, alice, "start", *FLAGS[:-4], "--start", "2030-01-01", "--end",
                   "2030-02-01")  # fmt: skip
    assert unknown.exit_code == 2, unknown.output
    assert "legs.0.symbol" in unknown.output
    assert _cli(gateway, alice, "start", "--symbol", "BTCUSDT").exit_code == 2
    bad_speed = _cli(gateway, alice, "start", *FLAGS, "--speed", "fast")
    assert bad_speed.exit_code == 2
    started = _json(gateway, alice, "start", *FLAGS)
    assert _cli(gateway, bob, "show", started["id"]).exit_code == 3
    assert _cli(gateway, bob, "kill", started["id"]).exit_code == 3
    assert _cli(gateway, alice, "show", str(uuid.uuid4())).exit_code == 3
    no_key = runner.invoke(app, ["session", "list"], env={"VELOCITAS_URL": gateway.url,
                                                          "VELOCITAS_API_KEY": ""})  # fmt: skip
    assert no_key.exit_code == 2
    assert "API key" in no_key.output
    assert _cli(gateway, alice, "kill").exit_code == 2


@pytest.mark.slow
def test_kill_all_is_for_admins(gateway: Live) -> None:
    store_bars("BTCUSDT")
    alice, root = _key("alice"), _key("root", Role.ADMIN)
    started = _json(gateway, alice, "start", *FLAGS)
    refused = _cli(gateway, alice, "kill", "--all")
    assert refused.exit_code == 1
    assert "403" in refused.output
    killed = _json(gateway, root, "kill", "--all")
    assert [s["id"] for s in killed] == [started["id"]]
    assert _json(gateway, alice, "show", started["id"])["session"]["state"] == "killed"


@pytest.mark.slow
def test_watch_draws_price_position_and_pnl_per_leg_until_the_session_ends(
    gateway: Live,
) -> None:
    store_bars("BTCUSDT")
    alice = _key("alice")
    started = _json(gateway, alice, "start", *FLAGS)
    sid = uuid.UUID(started["id"])
    at = T0 + timedelta(hours=5)
    with session_scope() as db:
        append_events(db, sid, [
            BarClosed(symbol="BTCUSDT", timeframe="1h", opened_at=T0, open=Decimal(100),
                      high=Decimal(102), low=Decimal(99), close=Decimal("101.5"),
                      volume=Decimal(7), at=at),
            PositionChanged(leg=0, symbol="BTCUSDT", side="long", quantity=Decimal("0.25"),
                            average_price=Decimal("100.5"), realised_pnl=Decimal(0),
                            unrealised_pnl=Decimal("0.25"), at=at),
            PnlSnapshot(legs=[LegPnl(leg=0, symbol="BTCUSDT", strategy="sma_cross",
                                     realised=Decimal("1.75"), unrealised=Decimal("0.25"), at=at)],
                        realised=Decimal("1.75"), unrealised=Decimal("0.25"),
                        cash=Decimal("9976.875"), equity=Decimal("10002"), at=at),
        ])  # fmt: skip
    _json(gateway, alice, "stop", str(sid))  # an ended session: watch draws once and returns
    drawn = _cli(gateway, alice, "watch", str(sid), "--interval", "0.1")
    assert drawn.exit_code == 0, drawn.output
    row = next(line.split() for line in drawn.output.splitlines() if line.startswith("  0 "))
    assert row == ["0", "BTCUSDT", "sma_cross", "101.5", "long", "0.25", "@", "100.5", "1.75",
                   "0.25"]  # fmt: skip
    assert "equity 10002" in drawn.output
    lines = _cli(gateway, alice, "watch", str(sid), "--json")
    snapshot = json.loads(lines.output.splitlines()[0])
    assert snapshot["pnl"]["total"] == "2.00"
    assert snapshot["positions"][0]["quantity"] == "0.25"

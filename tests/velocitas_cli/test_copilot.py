"""`velocitas copilot rules|alerts|ack`: a user's rules created, listed and deleted; alerts
listed and acknowledged; bad rules exit 2 naming the field, unknown users and ids exit 3."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from velocitas.copilot import evaluate_bars
from velocitas.jobs import TASK_ALERTS_BARS
from velocitas.settings import get_settings
from velocitas_cli.main import app

runner = CliRunner()
RULE = {"kind": "cross", "symbol": "EURUSD", "timeframe": "1h", "level": "1.07"}


def _run(*argv: str) -> Any:
    result = runner.invoke(app, ["copilot", *argv])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rules_add_list_delete(eurusd: str) -> None:
    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    created = _run("rules", "--user", "dana", "--add", json.dumps(RULE), "--json")
    assert created["name"] == "close crosses 1.07 on EURUSD 1h"
    assert created["spec"]["level"] == "1.07"
    assert [r["id"] for r in _run("rules", "--user", "dana", "--json")] == [created["id"]]
    assert _run("rules", "--user", "dana", "--delete", created["id"], "--json") == {
        "deleted": created["id"]
    }
    assert _run("rules", "--user", "dana", "--json") == []


def test_alerts_and_ack(eurusd: str) -> None:
    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    _run("rules", "--user", "dana", "--add", json.dumps(RULE), "--json")
    first = datetime(2017, 4, 19, tzinfo=UTC)
    raised = evaluate_bars("EURUSD", "1h", first, first + timedelta(days=400), max_bars=10_000)
    assert raised
    alerts = _run("alerts", "--user", "dana", "--json", "--limit", "500")
    assert len(alerts) == min(len(raised), 500)
    acked = _run("ack", alerts[0]["id"], "--user", "dana", "--json")
    assert acked["acknowledged_at"] is not None
    still_open = _run("alerts", "--user", "dana", "--unacknowledged", "--json", "--limit", "500")
    assert alerts[0]["id"] not in {a["id"] for a in still_open}
    table = runner.invoke(app, ["copilot", "alerts", "--user", "dana"])
    assert table.exit_code == 0
    assert "alerts of dana" in table.output


def test_a_bad_rule_exits_2_naming_the_field(eurusd: str) -> None:
    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    for rule, field in [
        ({**RULE, "indicator": {"name": "vwap"}}, "indicator.name"),
        ({**RULE, "symbol": "NOPE"}, "symbol"),
        ({**RULE, "level": "x"}, "level"),
        ({"kind": "session_drawdown"}, "kind"),
    ]:
        result = runner.invoke(
            app, ["copilot", "rules", "--user", "dana", "--add", json.dumps(rule)]
        )
        assert result.exit_code == 2, result.output
        assert f"{field}:" in result.output
    assert runner.invoke(app, ["copilot", "rules", "--user", "dana", "--add", "{"]).exit_code == 2


def test_unknown_user_or_alert_exits_3(eurusd: str) -> None:
    assert runner.invoke(app, ["copilot", "rules", "--user", "nobody"]).exit_code == 3
    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    missing = "00000000-0000-0000-0000-000000000000"
    assert runner.invoke(app, ["copilot", "ack", missing, "--user", "dana"]).exit_code == 3
    assert runner.invoke(app, ["copilot", "ack", "nope", "--user", "dana"]).exit_code == 2


def _queued_tasks(redis_url: str, queue: str) -> list[tuple[str, list[str]]]:
    """(task name, args) of the messages waiting in `queue` (kombu's Redis list)."""
    client = redis.Redis.from_url(redis_url)
    try:
        messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def test_data_import_asks_the_workers_only_when_a_rule_watches_the_series(
    eurusd: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", queue)
    get_settings.cache_clear()
    csv = tmp_path / "bars.csv"
    csv.write_text(
        "time,open,high,low,close,volume\n2030-01-01T00:00:00Z,1.1,1.2,1.0,1.1,5\n"
        "2030-01-01T01:00:00Z,1.1,1.2,1.0,1.15,5\n"
    )
    imported = ["data", "import", str(csv), "--symbol", "EURUSD", "--timeframe", "1h"]
    assert runner.invoke(app, imported).exit_code == 0
    assert _queued_tasks(redis_url, queue) == []  # no rule watches EURUSD yet

    assert runner.invoke(app, ["user", "create", "dana"]).exit_code == 0
    _run("rules", "--user", "dana", "--add", json.dumps(RULE), "--json")
    csv.write_text("time,open,high,low,close,volume\n2030-01-01T02:00:00Z,1.1,1.2,1.0,1.1,5\n")
    assert runner.invoke(app, imported).exit_code == 0
    assert _queued_tasks(redis_url, queue) == [
        (
            TASK_ALERTS_BARS,
            ["EURUSD", "1h", "2030-01-01T02:00:00+00:00", "2030-01-01T02:00:00+00:00"],
        )
    ]
    assert runner.invoke(app, imported).exit_code == 0  # unchanged: nothing new to evaluate
    assert len(_queued_tasks(redis_url, queue)) == 1
    redis.Redis.from_url(redis_url).delete(queue)

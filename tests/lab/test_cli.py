"""`velocitas lab ...` end to end on the real embedded PostgreSQL: train, list, promote,
evaluate, and the registered policy as the strategy of an ordinary backtest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from tests.lab.factories import make_bars
from velocitas.db.models_registry import get_model
from velocitas.db.sentiment import bar_sentiment
from velocitas.domain.bars import BarArrays
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.settings import get_settings
from velocitas.strategies import registry
from velocitas.strategies.policy import PolicyResolver, PolicyStrategy, register_policy_strategy
from velocitas_cli.main import app

runner = CliRunner()

TRAIN = "2024-01-01:2024-02-10"
VALIDATE = "2024-02-10:2024-03-01"
TEST = "2024-03-01:2024-03-24"


def _store(url: str, bars: BarArrays) -> None:
    rows = [
        (
            bars.symbol,
            bars.timeframe,
            datetime.fromtimestamp(int(bars.opened_at[i]) / 1e9, tz=UTC),
            *(Decimal(repr(float(col[i]))) for col in (bars.open, bars.high, bars.low)),
            Decimal(repr(float(bars.close[i]))),
            Decimal(repr(float(bars.volume[i]))),
        )
        for i in range(len(bars))
    ]
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bar (symbol, timeframe, opened_at, open, high, low, close, volume) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, ["lab", *args])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def _train(seed: int = 3) -> dict[str, Any]:
    return _invoke(
        "train", "--symbol", "TEST", "--timeframe", "1h", "--train", TRAIN,
        "--validate", VALIDATE, "--timesteps", "128", "--seed", str(seed), "--n-steps", "64",
        "--batch-size", "32", "--net-arch", "8,8", "--episode-bars", "200", "--json",
    )  # fmt: skip


@pytest.fixture
def lab_home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VELOCITAS_HOME", str(tmp_path))
    get_settings.cache_clear()
    _store(database_url, make_bars(2000, seed=31))
    return tmp_path


def test_lab_train_writes_bundle_and_registers_candidate(lab_home: Path) -> None:
    record = _train()
    assert record["stage"] == "candidate"
    assert record["version"].startswith("TEST-1h-")
    assert record["version"].endswith(record["sha256"][:8])
    bundle = Path(record["path"])
    assert bundle.parent == lab_home / "models"
    assert (bundle / "policy.safetensors").is_file()
    config = orjson.loads((bundle / "config.json").read_bytes())
    assert config["seed"] == 3
    assert config["data"]["snapshot_hash"] == record["data_snapshot_hash"]
    assert "total_return" in record["metrics"]["validation"]
    listed = _invoke("models", "--json")
    assert [m["version"] for m in listed] == [record["version"]]


@pytest.mark.slow  # tests/lab/test_training.py proves the same at the library level, faster
def test_lab_train_same_seed_same_bundle_hash(lab_home: Path) -> None:
    assert _train(seed=4)["sha256"] == _train(seed=4)["sha256"]


def test_lab_promote_sets_production_and_demotes_previous(lab_home: Path) -> None:
    first, second = _train(seed=1), _train(seed=2)
    assert _invoke("promote", first["version"], "--json")["stage"] == "production"
    _invoke("promote", second["version"], "--json")
    stages = {m["version"]: m["stage"] for m in _invoke("models", "--json")}
    assert stages == {first["version"]: "candidate", second["version"]: "production"}


def test_lab_promote_unknown_version_exits_3(lab_home: Path) -> None:
    result = runner.invoke(app, ["lab", "promote", "nope"])
    assert result.exit_code == 3


def test_lab_train_bad_window_exits_2(lab_home: Path) -> None:
    result = runner.invoke(
        app,
        ["lab", "train", "--symbol", "TEST", "--timeframe", "1h", "--train", "2024-02-01",
         "--validate", VALIDATE, "--timesteps", "10"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "START:END" in result.output


def test_lab_train_overlapping_windows_exit_2(lab_home: Path) -> None:
    result = runner.invoke(
        app,
        ["lab", "train", "--symbol", "TEST", "--timeframe", "1h", "--train", TRAIN,
         "--validate", "2024-02-01:2024-03-01", "--timesteps", "10"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "overlaps" in result.output


@pytest.fixture
def policy_strategy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # as the worker enables it, the model registry behind it; both undone afterwards
    resolver = PolicyResolver(model=get_model, sentiment=bar_sentiment)
    monkeypatch.setattr(PolicyStrategy, "resolver", resolver)
    register_policy_strategy()
    yield
    registry.unregister("policy")  # the registry's catalogue is global to the process


def test_lab_evaluate_compares_policy_with_rules_and_equals_policy_backtest(
    lab_home: Path, policy_strategy: None
) -> None:
    record = _train()
    report = _invoke("evaluate", record["version"], "--test", TEST, "--json")
    assert report["buy_and_hold"]["metrics"]["total_return"] is not None
    assert report["best_rule"]["name"] in report["rule_returns"]
    assert "policy" not in report["rule_returns"]
    best = max(report["rule_returns"].values())
    assert report["best_rule"]["result"]["metrics"]["total_return"] == best

    # The same policy as the strategy of an ordinary backtest: the same trades.
    from velocitas.db.bars import load_bars

    spec = BacktestSpec.model_validate(
        {
            "symbol": "TEST",
            "strategy": {"name": "policy", "params": {"model": record["version"]}},
            "timeframe": "1h",
            "start": "2024-03-01T00:00:00Z",
            "end": "2024-03-24T00:00:00Z",
            "initial_cash": "10000",
        }
    )
    bars = load_bars("TEST", "1h", spec.start, spec.end)
    backtest = run_backtest(spec, {"TEST": bars}).to_dict(include_equity=False)
    assert backtest["trades"] == report["policy"]["trades"]
    assert backtest["final_equity"] == report["policy"]["final_equity"]


def test_lab_evaluate_unknown_version_exits_3(lab_home: Path) -> None:
    result = runner.invoke(app, ["lab", "evaluate", "nope", "--test", TEST])
    assert result.exit_code == 3

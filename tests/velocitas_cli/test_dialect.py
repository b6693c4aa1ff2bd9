"""One CLI dialect: `backtest run | sweep | walk-forward` and `lab train` read the same options
the same way into the same `BacktestSpec`, on backtesting.py's GOOG daily and EURUSD hourly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from tests.lab.factories import make_bundle
from tests.oracle.factories import bundle_record
from velocitas.db.models_registry import register_model
from velocitas.engine import BacktestSpec
from velocitas_cli.main import app

runner = CliRunner()

RANGE = ["--timeframe", "1d", "--start", "2010-01-01", "--end", "2013-01-01"]
LEG = ["--symbol", "GOOG", "--strategy", "sma_cross", "--param", "fast=10"]
EXECUTION = [
    *["--cash", "25000", "--fee", "0.2%", "--fixed-fee", "1", "--slippage", "2bps"],
    *["--fill", "same-close", "--size", "50%", "--lot", "1", "--stop-loss", "5%"],
    *["--take-profit", "3atr", "--trailing", "2%", "--atr-period", "20", "--path", "ohlc"],
    *["--allow-short", "--max-position", "80%", "--max-daily-loss", "3%"],
    *["--max-drawdown", "25%", "--cooldown", "2:5"],
]


def _captured(monkeypatch: pytest.MonkeyPatch, target: str, argv: list[str]) -> Any:
    """The spec (or lab config) the command hands to `target`, which then stops it."""
    seen: list[Any] = []

    def capture(first: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(first)
        raise typer.Exit(0)

    monkeypatch.setattr(target, capture)
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    (value,) = seen
    return value


def test_run_sweep_walk_forward_and_lab_train_build_equal_specs(
    goog: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = ["--grid", "slow=30,50"]
    run = _captured(
        monkeypatch,
        "velocitas_cli.backtest.run_backtest",
        ["backtest", "run", *RANGE, *LEG, *EXECUTION],
    )
    sweep = _captured(
        monkeypatch,
        "velocitas.research.sweeps.run_sweep",
        ["backtest", "sweep", *RANGE, *LEG, *grid, *EXECUTION],
    )
    walk = _captured(
        monkeypatch,
        "velocitas.research.walk_forward.run_walk_forward",
        ["backtest", "walk-forward", *RANGE, *LEG, *grid, *EXECUTION,
         "--in-sample", "365d", "--out-of-sample", "180d"],
    )  # fmt: skip
    config = _captured(
        monkeypatch,
        "lab.pipeline.train_and_register",
        ["lab", "train", "--symbol", "GOOG", "--timeframe", "1d",
         "--train", "2008-01-01:2011-01-01", "--validate", "2011-01-01:2012-01-01", *EXECUTION],
    )  # fmt: skip
    assert isinstance(run, BacktestSpec)
    assert run == sweep == walk
    assert run.start == datetime(2010, 1, 1, tzinfo=UTC)  # no offset: UTC
    assert run.fees.rate == Decimal("0.002")
    assert run.slippage_bps == Decimal(2)
    assert run.fill == "same_close"
    assert run.stops.trailing_stop is not None
    assert run.stops.take_profit is not None
    assert run.stops.take_profit.atr_period == 20
    assert run.legs[0].strategy.params == {"fast": 10, "allow_short": True}
    # The lab trades its own windows with the policy; everything else is the same spec.
    execution = {"legs", "start", "end"}
    assert config.execution.model_dump(exclude=execution) == run.model_dump(exclude=execution)


@pytest.mark.parametrize(
    ("option", "same"),
    [("--fee", ["0.2%", "0.002", "20bps"]), ("--slippage", ["2bps", "0.0002", "0.02%"])],
)
def test_rates_written_three_ways_build_one_spec(
    goog: str, monkeypatch: pytest.MonkeyPatch, option: str, same: list[str]
) -> None:
    specs = [
        _captured(
            monkeypatch,
            "velocitas_cli.backtest.run_backtest",
            ["backtest", "run", *RANGE, *LEG, option, text],
        )
        for text in same
    ]
    assert specs[0] == specs[1] == specs[2]
    assert specs[0].model_dump(mode="json") == specs[1].model_dump(mode="json")


def test_defaults_are_the_spec_models(goog: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _captured(
        monkeypatch, "velocitas_cli.backtest.run_backtest", ["backtest", "run", *RANGE, *LEG]
    )
    rest = BacktestSpec.model_validate(
        {
            "symbol": "GOOG",
            "strategy": {"name": "sma_cross", "params": {"fast": 10}},
            "timeframe": "1d",
            "start": "2010-01-01T00:00:00",  # REST reads a naive time as UTC too
            "end": "2013-01-01",
        }
    )
    assert spec == rest


def test_start_and_end_left_out_mean_all_stored_bars(goog: str) -> None:
    result = runner.invoke(app, ["backtest", "run", "--timeframe", "1d", *LEG, "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["metrics"]["bars"] == 2148  # every GOOG bar, 2004-08-19 .. 2013-03-01
    walk = runner.invoke(
        app,
        ["backtest", "walk-forward", "--timeframe", "1d", *LEG, "--grid", "slow=30,50",
         "--start", "2008-01-01", "--in-sample", "730d", "--out-of-sample", "365d", "--json"],
    )  # fmt: skip
    assert walk.exit_code == 0, walk.output
    folds = orjson.loads(walk.stdout)["folds"]
    assert folds[0]["in_sample"][0].startswith("2008-01-01")
    assert folds[-1]["out_of_sample"][1].startswith("2013-03-02")  # one bar past the last


def test_open_range_on_a_symbol_without_bars_exits_2(database_url: str) -> None:
    result = runner.invoke(app, ["backtest", "run", "--timeframe", "1d", *LEG])
    assert result.exit_code == 2
    assert "no 1d bars of 'GOOG' stored" in result.stderr


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        (["backtest", "run", *RANGE, *LEG], "--fee", "lots"),
        (["backtest", "sweep", *RANGE, *LEG, "--grid", "slow=30,50"], "--slippage", "2 pips"),
        (
            [
                "backtest",
                "walk-forward",
                *RANGE,
                *LEG,
                "--grid",
                "slow=30,50",
                "--in-sample",
                "365d",
                "--out-of-sample",
                "90d",
            ],
            "--cash",
            "-5",
        ),
        (
            [
                "lab",
                "train",
                "--symbol",
                "GOOG",
                "--timeframe",
                "1d",
                "--train",
                "2008-01-01:2011-01-01",
                "--validate",
                "2011-01-01:2012-01-01",
            ],
            "--fill",
            "tomorrow",
        ),
        (["backtest", "run", *LEG, "--timeframe", "1d"], "--start", "last tuesday"),
    ],
)
def test_bad_values_exit_2_naming_the_option(
    goog: str, command: list[str], option: str, value: str
) -> None:
    result = runner.invoke(app, [*command, option, value])
    assert result.exit_code == 2, result.output
    assert option in result.stderr


@pytest.fixture
def policy_model(eurusd: str, tmp_path: Path) -> str:
    """A registered random-weights policy trained on 1h bars, as `lab train` leaves one."""
    sha = make_bundle(tmp_path / "eurusd-policy")
    register_model(bundle_record(tmp_path / "eurusd-policy", "eurusd-policy", sha, "EURUSD"))
    return "eurusd-policy"


def test_run_policy_strategy_from_the_cli(policy_model: str) -> None:
    result = runner.invoke(
        app,
        ["backtest", "run", "--symbol", "EURUSD", "--timeframe", "1h", "--strategy", "policy",
         "--param", f"model={policy_model}", "--fee", "0", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["metrics"]["bars"] == 5000
    assert report["trades"], "random weights trade; no trade would prove little"


def test_calendar_and_risk_free_reach_the_report(goog: str) -> None:
    argv = ["backtest", "run", *RANGE, *LEG, "--json"]
    inferred = orjson.loads(runner.invoke(app, argv).stdout)["metrics"]
    chosen = runner.invoke(app, [*argv, "--calendar", "crypto", "--risk-free", "4%"])
    assert chosen.exit_code == 0, chosen.output
    metrics = orjson.loads(chosen.stdout)["metrics"]
    assert (inferred["calendar"], metrics["calendar"]) == ("XNYS", "crypto")
    assert metrics["risk_free_rate"] == pytest.approx(0.04)
    assert metrics["periods_per_year"] > inferred["periods_per_year"]  # 365 days, not 252


def test_unknown_calendar_exits_2_naming_the_option(goog: str) -> None:
    result = runner.invoke(app, ["backtest", "run", *RANGE, *LEG, "--calendar", "MOON"])
    assert result.exit_code == 2, result.output
    assert "calendar" in result.stderr

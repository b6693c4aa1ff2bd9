"""`backtest sweep` / `backtest walk-forward` through typer's runner on the real database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_table
from velocitas.synth import synth_bars
from velocitas_cli.backtest_sweep import sweep, walk_forward

runner = CliRunner()
app = typer.Typer()
app.command("sweep")(sweep)
app.command("walk-forward")(walk_forward)

RANGE = [
    *["--symbol", "SYN", "--strategy", "sma_cross", "--timeframe", "1m"],
    *["--start", "2024-01-01", "--end", "2024-01-03"],
]


@pytest.fixture
def stored_bars(database_url: str) -> str:
    import_table(synth_bars(2 * 1440, Timeframe.M1, seed=3), symbol="SYN", timeframe="1m")
    return database_url


def test_sweep_json_ranks_the_grid_and_writes_heatmap(stored_bars: str, tmp_path: Path) -> None:
    out = tmp_path / "heat.html"
    grid = ["--grid", "fast=5:15:5", "--grid", "slow=20:60:20"]
    args = ["sweep", *RANGE, *grid, "--objective", "total_return", "--heatmap", str(out)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["path"] == "fast"
    returns = [r["total_return"] for r in report["ranking"]]
    assert len(returns) == 9
    assert returns == sorted(returns, reverse=True)
    assert report["heatmap"]["x_values"] == [5, 10, 15]
    assert report["heatmap"]["y_values"] == [20, 40, 60]
    assert "<svg" in out.read_text()
    assert "total_return" in out.read_text()


def test_sweep_table_and_random_draw(stored_bars: str) -> None:
    grid = ["--grid", "fast=2:20", "--grid", "slow=30:60:10"]
    result = runner.invoke(app, ["sweep", *RANGE, *grid, "--random", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "5 ranked" in result.stdout
    again = runner.invoke(app, ["sweep", *RANGE, *grid, "--random", "5", "--seed", "1", "--json"])
    first = runner.invoke(app, ["sweep", *RANGE, *grid, "--random", "5", "--seed", "1", "--json"])
    assert orjson.loads(again.stdout) == orjson.loads(first.stdout)


def test_sweep_random_draws_from_intervals_and_declared_bounds(stored_bars: str) -> None:
    grid = ["--grid", "fast=2:20", "--grid", "slow=30:300", "--grid", "allow_short=*"]
    args = ["sweep", *RANGE, *grid, "--random", "8", "--seed", "4", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = orjson.loads(first.stdout)
    params = [r["params"] for r in report["ranking"] + report["excluded"]]
    assert len(params) == 8
    assert all(2 <= p["fast"] <= 20 and 30 <= p["slow"] <= 300 for p in params)
    assert {p["allow_short"] for p in params} <= {False, True}
    assert len({p["slow"] for p in params}) > 4  # any integer of the interval, not 28 points
    assert orjson.loads(runner.invoke(app, args).stdout) == report
    bad = runner.invoke(app, ["sweep", *RANGE, "--grid", "allow_short=0:1", "--random", "2"])
    assert bad.exit_code == 2
    assert "boolean" in bad.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "fast=0:10:5"], "outside"),
        (["--grid", "fast=20:5"], "empty range"),
        (["--grid", "speed=1:3"], "no parameter"),
        (["--grid", "fast=5:10", "--strategy", "nope"], "nope"),
        (["--grid", "fast=5:10", "--objective", "alpha"], "objective"),
        (["--grid", "fast=5:10", "--exclude-drawdown", "150%"], "100%"),
    ],
)
def test_sweep_bad_parameters_exit_2(stored_bars: str, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["sweep", *RANGE, *extra])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_sweep_without_stored_bars_exits_2(database_url: str) -> None:
    result = runner.invoke(app, ["sweep", *RANGE, "--grid", "fast=5:10"])
    assert result.exit_code == 2
    assert "no 1m bars" in result.stderr


def test_walk_forward_json_reports_folds_and_stitched_metrics(stored_bars: str) -> None:
    args = ["walk-forward", *RANGE, "--grid", "fast=3,6", "--grid", "slow=20,40"]
    result = runner.invoke(
        app, [*args, "--in-sample", "12h", "--out-of-sample", "6h", "--anchored", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert len(report["folds"]) == 6  # (48h − 12h) / 6h
    assert report["anchored"] is True
    assert all(f["in_sample"][0].startswith("2024-01-01T00:00") for f in report["folds"])
    last = report["folds"][-1]["out_of_sample_result"]["final_equity"]
    assert report["final_equity"] == last
    assert report["metrics"]["bars"] == 36 * 60


def test_walk_forward_bad_window_exits_2(stored_bars: str) -> None:
    args = ["walk-forward", *RANGE, "--grid", "fast=3,6", "--out-of-sample", "6h"]
    assert runner.invoke(app, [*args, "--in-sample", "12 parsecs"]).exit_code == 2
    too_long = runner.invoke(app, [*args, "--in-sample", "3d"])
    assert too_long.exit_code == 2
    assert "in-sample" in too_long.stderr

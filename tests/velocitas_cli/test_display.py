"""What people read: the strategies catalogue, tables at 80 columns, a walk-forward's HTML page;
on backtesting.py's GOOG daily and EURUSD hourly bars."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from velocitas.report.summary import display_number
from velocitas_cli.main import app

runner = CliRunner()

GOOG = ["--symbol", "GOOG", "--timeframe", "1d", "--strategy", "sma_cross"]
EURUSD = ["--symbol", "EURUSD", "--timeframe", "1h", "--strategy", "sma_cross"]


@pytest.fixture
def columns_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _assert_fits_80(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)
    assert "…" not in text, "a cell lost its end to an ellipsis"


def test_strategies_header_shows_its_bounds_notation(columns_80: None) -> None:
    result = runner.invoke(app, ["backtest", "strategies"])
    assert result.exit_code == 0, result.output
    assert "[min," in result.stdout
    assert "max]" in result.stdout
    _assert_fits_80(result.stdout)


def test_run_tables_fit_80_columns_with_short_times_and_rounded_decimals(
    eurusd: str, columns_80: None
) -> None:
    args = ["backtest", "run", *EURUSD, "--param", "fast=10", "--param", "slow=30"]
    args += ["--size", "33.3333%", "--allow-short"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    _assert_fits_80(result.stdout)
    exact = orjson.loads(runner.invoke(app, [*args, "--json"]).stdout)
    last = exact["trades"][-1]
    # The last trade's times, short and whole on one line; its quantity rounded for display.
    exit_at = datetime.fromisoformat(last["exit_at"])
    assert f"(times {exit_at.year}, UTC)" in result.stdout
    assert exit_at.strftime(" %m-%d %H:%M ") in result.stdout
    assert display_number(last["quantity"]) in result.stdout
    assert len(last["quantity"].split(".")[-1]) > 6, "the JSON keeps the exact quantity"


def test_sweep_and_walk_forward_tables_fit_80_columns(eurusd: str, columns_80: None) -> None:
    grid = ["--grid", "fast=5:15:5", "--grid", "slow=20:60:20"]
    sweep = runner.invoke(app, ["backtest", "sweep", *EURUSD, *grid])
    assert sweep.exit_code == 0, sweep.output
    _assert_fits_80(sweep.stdout)
    walk = runner.invoke(
        app,
        ["backtest", "walk-forward", *EURUSD, *grid, "--in-sample", "60d",
         "--out-of-sample", "30d"],
    )  # fmt: skip
    assert walk.exit_code == 0, walk.output
    _assert_fits_80(walk.stdout)
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d ", walk.stdout), walk.stdout


def test_walk_forward_html_shows_the_stitched_equity(goog: str, tmp_path: Path) -> None:
    page = tmp_path / "wf.html"
    args = [
        *["backtest", "walk-forward", *GOOG, "--grid", "fast=5,10", "--grid", "slow=30,50"],
        *["--in-sample", "730d", "--out-of-sample", "365d", "--html", str(page), "--json"],
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    html = page.read_text()
    assert "Stitched out-of-sample equity and drawdown" in html
    assert "equity-chart" in html
    assert "Plotly.newPlot" in html
    assert f"Folds ({len(report['folds'])})" in html
    assert report["final_equity"] in html  # the stitched metrics table, exact

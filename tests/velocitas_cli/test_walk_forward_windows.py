"""`backtest walk-forward` on daily stock bars: windows shorter than a few bars and too many
folds are refused (exit 2, saying why and how many); calendar months cut the right folds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import typer
from typer.testing import CliRunner

from tests.support.stock_bars import goog_daily_table
from velocitas.ingest import import_table
from velocitas_cli.backtest_sweep import walk_forward

runner = CliRunner()
app = typer.Typer()
app.command("walk-forward")(walk_forward)
app.command("unused")(lambda: None)  # two commands: typer keeps the command name

DAILY = [
    "--symbol",
    "GOOG",
    "--strategy",
    "sma_cross",
    "--timeframe",
    "1d",
    "--grid",
    "fast=5,10",
    "--grid",
    "slow=20,40",
]


@pytest.fixture
def goog(database_url: str) -> str:
    import_table(goog_daily_table(), symbol="GOOG", timeframe="1d")
    return database_url


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["walk-forward", *DAILY, *args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_walk_forward_out_of_sample_in_minutes_on_daily_bars_exits_2(goog: str) -> None:
    code, _, error = _run(
        "--start", "2005-01-01", "--end", "2013-01-01", "--in-sample", "6mo",
        "--out-of-sample", "6m",
    )  # fmt: skip
    assert code == 2
    assert "out_of_sample 6m is 6 minutes, shorter than 3 bars of 1d" in error


def test_walk_forward_capital_m_exits_2_naming_minutes_and_months(goog: str) -> None:
    code, _, error = _run(
        "--start", "2005-01-01", "--end", "2013-01-01", "--in-sample", "1y",
        "--out-of-sample", "6M",
    )  # fmt: skip
    assert code == 2
    assert "6M is ambiguous: write 6m for 6 minutes or 6mo for 6 months" in error


def test_walk_forward_over_the_fold_limit_exits_2_with_the_count(goog: str) -> None:
    start, end = datetime(2005, 1, 1, tzinfo=UTC), datetime(2013, 1, 1, tzinfo=UTC)
    folds = math.ceil((end - start - timedelta(days=30)) / timedelta(days=3))
    code, _, error = _run(
        "--start", "2005-01-01", "--end", "2013-01-01", "--in-sample", "30d",
        "--out-of-sample", "3d",
    )  # fmt: skip
    assert code == 2
    assert f"into {folds} folds; at most 500 (MAX_WALK_FORWARD_FOLDS)" in error


def test_walk_forward_in_calendar_months_cuts_folds_at_month_ends(goog: str) -> None:
    code, out, error = _run(
        "--start", "2005-01-31", "--end", "2008-01-31", "--in-sample", "6mo",
        "--out-of-sample", "6mo", "--json",
    )  # fmt: skip
    assert code == 0, error
    folds = orjson.loads(out)["folds"]
    assert [f["out_of_sample"] for f in folds] == [
        ["2005-07-31T00:00:00+00:00", "2006-01-31T00:00:00+00:00"],
        ["2006-01-31T00:00:00+00:00", "2006-07-31T00:00:00+00:00"],
        ["2006-07-31T00:00:00+00:00", "2007-01-31T00:00:00+00:00"],
        ["2007-01-31T00:00:00+00:00", "2007-07-31T00:00:00+00:00"],
        ["2007-07-31T00:00:00+00:00", "2008-01-31T00:00:00+00:00"],
    ]
    assert folds[0]["in_sample"] == ["2005-01-31T00:00:00+00:00", "2005-07-31T00:00:00+00:00"]
    assert folds[1]["in_sample"] == ["2005-07-31T00:00:00+00:00", "2006-01-31T00:00:00+00:00"]
    assert all("out_of_sample_result" in f for f in folds)

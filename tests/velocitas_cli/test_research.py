"""`velocitas research tournament` through typer's runner on the real database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from backtesting.test import EURUSD
from typer.testing import CliRunner

from tests.velocitas_cli.conftest import _table
from velocitas.ingest import import_table
from velocitas_cli.research import app

runner = CliRunner()
ARGS = [
    "tournament", "--symbol", "EURUSD", "--symbol", "EURUSD2", "--strategy", "sma_cross",
    "--strategy", "momentum", "--folds", "3", "--cscv-blocks", "4",
    "--start", "2017-05-01", "--end", "2017-08-01",
]  # fmt: skip


@pytest.fixture
def two_markets(eurusd: str) -> str:
    """EURUSD stored a second time as EURUSD2: two markets with the same bars."""
    import_table(_table(EURUSD), symbol="EURUSD2", timeframe="1h")
    return eurusd


def test_tournament_json_ranks_every_entry(two_markets: str) -> None:
    result = runner.invoke(app, [*ARGS, "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert len(report["entries"]) == 4
    assert report["trials"] == 4
    assert report["overfitting"]["splits"] == 6
    assert {e["symbol"] for e in report["entries"]} == {"EURUSD", "EURUSD2"}
    # The same bars under two names: each strategy scores alike on both.
    by_strategy: dict[str, set[float]] = {}
    for entry in report["entries"]:
        by_strategy.setdefault(entry["strategy"], set()).add(entry["out_of_sample"]["sharpe"])
    assert all(len(values) == 1 for values in by_strategy.values())
    kinds = {item["kind"] for item in report["recommendations"]}
    assert kinds <= {"trade", "caution", "no_edge", "overfit", "regime", "regime_no_edge"}


def test_tournament_table_prints_ranking_and_recommendations(two_markets: str) -> None:
    result = runner.invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert "tournament by out-of-sample sharpe" in result.stdout
    assert "PBO" in result.stdout
    assert "deflated Sharpe ratio" in result.stdout


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (["--strategy", "alpha"], "--strategy"),
        (["--symbol", "NOPE"], "--symbol"),
        (["--folds", "5000"], "--folds"),
        (["--end", "2017-04-01"], "--end"),
    ],
)
def test_tournament_bad_input_exits_2_naming_the_option(
    eurusd: str, change: list[str], says: str
) -> None:
    args = ["tournament", "--symbol", "EURUSD", "--start", "2017-05-01", "--end", "2017-08-01"]
    result = runner.invoke(app, [*args, *change])
    assert result.exit_code == 2, result.output
    assert says in result.stderr


def test_tournament_reads_a_spec_file(eurusd: str, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(
        orjson.dumps(
            {"strategies": [{"name": "sma_cross", "grid": {"fast": [5, 10]}}],
             "symbols": ["EURUSD"], "start": "2017-05-01T00:00:00Z",
             "end": "2017-08-01T00:00:00Z", "folds": 2, "cscv_blocks": 4}
        )
    )  # fmt: skip
    result = runner.invoke(app, ["tournament", "--spec", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["trials"] == 2
    assert report["folds"] == 2

"""`velocitas data list --calendar`: gaps counted on a named or inferred market calendar."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from velocitas_cli.main import app

runner = CliRunner()


def _gaps(*options: str) -> tuple[int, int]:
    listed = runner.invoke(app, ["data", "list", "--json", *options])
    assert listed.exit_code == 0, listed.output
    (series,) = orjson.loads(listed.output)
    return series["missing_bars"], series["gap_count"]


def test_data_list_counts_gaps_on_the_market_calendar(database_url: str, tmp_path: Path) -> None:
    # Weekday sessions of 2024-01-08 .. 2024-01-19 without Wednesday the 10th.
    days = [8, 9, 11, 12, 15, 16, 17, 18, 19]
    path = tmp_path / "stock.csv"
    rows = [f"2024-01-{d:02d}T00:00:00Z,1,2,1,1.5,1" for d in days]
    path.write_text("\n".join(["opened_at,open,high,low,close,volume", *rows]) + "\n")
    imported = runner.invoke(
        app, ["data", "import", str(path), "--symbol", "S", "--timeframe", "1d"]
    )
    assert imported.exit_code == 0, imported.output

    assert _gaps() == (1, 1)  # inferred XNYS: only the Wednesday
    assert _gaps("--calendar", "XNYS") == (1, 1)
    assert _gaps("--calendar", "crypto") == (3, 2)  # 24/7: the weekend too


def test_data_list_refuses_an_unknown_calendar(database_url: str) -> None:
    listed = runner.invoke(app, ["data", "list", "--calendar", "NOPE"])
    assert listed.exit_code == 2
    assert "XNYS" in listed.output

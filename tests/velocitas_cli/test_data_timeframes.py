"""`velocitas data import` of monthly bars: `1mo` stores them, the ambiguous `1M` is refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import psycopg
from backtesting.test import GOOG
from typer.testing import CliRunner

from velocitas_cli.main import app

runner = CliRunner()


def _monthly_csv(path: Path) -> int:
    # Real daily stock bars aggregated per calendar month, as a monthly file comes.
    monthly = (
        GOOG.resample("MS")
        .agg({"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"})
        .dropna()
    )
    lines = ["time,open,high,low,close,volume"] + [
        f"{day:%Y-%m-%d}T00:00:00Z,{o},{h},{lo},{c},{int(v)}"
        for day, (o, h, lo, c, v) in zip(monthly.index, monthly.to_numpy(), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return len(monthly)


def test_data_import_monthly_file_as_1mo_stores_monthly_bars_without_gaps(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "goog-monthly.csv"
    months = _monthly_csv(path)
    result = runner.invoke(
        app, ["data", "import", str(path), "--symbol", "GOOG", "--timeframe", "1mo", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert (summary["timeframe"], summary["inserted"], summary["missing_bars"]) == (
        "1mo",
        months,
        0,
    )
    assert summary["first_opened_at"] == "2004-08-01T00:00:00Z"
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT timeframe, count(*) FROM bar WHERE symbol = 'GOOG' GROUP BY 1"
        ).fetchall()
    assert stored == [("1mo", months)]
    listed = runner.invoke(app, ["data", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [series] = orjson.loads(listed.stdout)
    assert (series["bars"], series["missing_bars"], series["gap_count"]) == (months, 0, 0)


def test_data_import_as_upper_1m_exits_2_naming_the_option_and_both_readings(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "goog-monthly.csv"
    _monthly_csv(path)
    result = runner.invoke(
        app, ["data", "import", str(path), "--symbol", "GOOG", "--timeframe", "1M"]
    )
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "--timeframe: 1M is ambiguous: write 1m for one minute or 1mo for one month" in message
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM bar").fetchone() == (0,)

"""`velocitas data import | synth | list` through typer's runner on the real database."""

from __future__ import annotations

from pathlib import Path

import orjson
import psycopg
from typer.testing import CliRunner

from velocitas_cli.main import app

runner = CliRunner()
HEADER = "time,open,high,low,close,volume\n"


def _count(url: str, symbol: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM bar WHERE symbol = %s", (symbol,)).fetchone()
    assert row is not None
    return int(row[0])


def test_data_import_json_prints_summary(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "2024-01-01T00:00:00Z,1.5,2,1,1.75,3\n")
    result = runner.invoke(
        app, ["data", "import", str(path), "--symbol", "BTCUSD", "--timeframe", "1m", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (1, 1, 0)
    assert summary["first_opened_at"] == "2024-01-01T00:00:00Z"
    assert _count(database_url, "BTCUSD") == 1


def test_data_import_bad_file_exits_2_naming_file_row_column(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "2024-01-01T00:00:00Z,1.5,2,1,1.75,3\n2024-01-01T00:01:00Z,1,0.5,1,1,1\n"
    )
    result = runner.invoke(app, ["data", "import", str(path), "--symbol", "X", "--timeframe", "1m"])
    assert result.exit_code == 2
    assert f"{path}: row 2, column high: high 0.5 is below max(open 1, close 1)" in (
        " ".join(result.stderr.split())
    )
    assert _count(database_url, "X") == 0


def test_data_import_skip_invalid_stores_good_rows(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "2024-01-01T00:00:00Z,1.5,2,1,1.75,3\n2024-01-01T00:01:00Z,[/],1,1,1,1\n"
    )
    result = runner.invoke(
        app,
        ["data", "import", str(path), "--symbol", "X", "--timeframe", "1m", "--skip-invalid"],
    )
    assert result.exit_code == 0, result.output
    assert "row 2, column open" in result.stderr
    assert _count(database_url, "X") == 1


def test_data_import_missing_file_exits_2(database_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["data", "import", str(tmp_path / "nope.csv"), "--symbol", "X", "--timeframe", "1m"]
    )
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_data_synth_to_file_is_deterministic_and_importable(
    database_url: str, tmp_path: Path
) -> None:
    outputs = []
    for name in ("a.csv", "b.csv"):
        result = runner.invoke(
            app, ["data", "synth", "--bars", "300", "--seed", "9", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    result = runner.invoke(
        app, ["data", "import", str(tmp_path / "a.csv"), "--symbol", "SYN", "--timeframe", "1m"]
    )
    assert result.exit_code == 0, result.output
    assert _count(database_url, "SYN") == 300


def test_data_synth_without_out_stores_bars_and_list_shows_them(database_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "data",
            "synth",
            "--symbol",
            "SYN",
            "--timeframe",
            "1h",
            "--bars",
            "500",
            "--seed",
            "1",
            "--start",
            "2024-03-01T00:00:00Z",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["inserted"] == 500
    listed = runner.invoke(app, ["data", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [series] = orjson.loads(listed.stdout)
    assert (series["symbol"], series["timeframe"], series["bars"]) == ("SYN", "1h", 500)
    assert (series["missing_bars"], series["gap_count"]) == (0, 0)
    assert series["first_opened_at"].startswith("2024-03-01T00:00:00")


def test_data_synth_bad_start_exits_2(database_url: str) -> None:
    result = runner.invoke(
        app, ["data", "synth", "--timeframe", "1h", "--start", "2024-03-01T00:30Z"]
    )
    assert result.exit_code == 2
    assert "not on the 1h grid" in result.stderr


def _synth(symbol: str, timeframe: str, bars: int) -> None:
    result = runner.invoke(
        app,
        ["data", "synth", "--symbol", symbol, "--timeframe", timeframe, "--bars", str(bars)],
    )
    assert result.exit_code == 0, result.output


def test_data_delete_yes_removes_only_that_series(database_url: str) -> None:
    _synth("SYN", "1h", 30)
    _synth("SYN", "1m", 20)
    result = runner.invoke(
        app, ["data", "delete", "--symbol", "SYN", "--timeframe", "1h", "--yes", "--json"]
    )
    assert result.exit_code == 0, result.output
    deleted = orjson.loads(result.stdout)
    assert (deleted["symbol"], deleted["timeframe"], deleted["bars"]) == ("SYN", "1h", 30)
    assert deleted["first_opened_at"].startswith("2024-01-01T00:00:00")
    with psycopg.connect(database_url) as conn:
        left = conn.execute("SELECT timeframe, count(*) FROM bar GROUP BY timeframe").fetchall()
    assert left == [("1m", 20)]


def test_data_delete_asks_first_and_keeps_the_bars_on_no(database_url: str) -> None:
    _synth("SYN", "1h", 30)
    result = runner.invoke(
        app, ["data", "delete", "--symbol", "SYN", "--timeframe", "1h"], input="n\n"
    )
    assert result.exit_code == 1
    assert "Delete 30 1h bars of SYN (2024-01-01T00:00:00Z .. 2024-01-02T05:00:00Z)?" in (
        result.stderr
    )
    assert _count(database_url, "SYN") == 30
    result = runner.invoke(
        app, ["data", "delete", "--symbol", "SYN", "--timeframe", "1h"], input="y\n"
    )
    assert result.exit_code == 0, result.output
    assert _count(database_url, "SYN") == 0


def test_data_delete_unknown_series_exits_2_naming_the_stored_ones(database_url: str) -> None:
    _synth("SYN", "1h", 3)
    result = runner.invoke(app, ["data", "delete", "--symbol", "SYN", "--timeframe", "1d", "--yes"])
    assert result.exit_code == 2
    assert "no 1d bars stored for 'SYN'; stored: SYN 1h" in " ".join(result.stderr.split())
    assert _count(database_url, "SYN") == 3

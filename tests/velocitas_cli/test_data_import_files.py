"""`velocitas data import` on files as people have them: pandas' `to_csv`, Yahoo-style
`Adj Close`, Dukascopy-style times. Built from the stock and FX data backtesting.py ships."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pandas as pd
import psycopg
import pytest
from backtesting.test import EURUSD, GOOG
from typer.testing import CliRunner

from velocitas_cli.main import app

runner = CliRunner()


def _stored(url: str, symbol: str) -> list[tuple[datetime, Decimal, Decimal]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT opened_at, open, close FROM bar WHERE symbol = %s ORDER BY opened_at",
            (symbol,),
        ).fetchall()
    return [(opened_at.astimezone(UTC), o, c) for opened_at, o, c in rows]


def _import(path: Path, *options: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["data", "import", str(path), *options])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_pandas_to_csv_of_daily_stock_data_imports_without_options(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "goog.csv"
    GOOG.to_csv(path)  # header ",Open,High,...": the unnamed index holds the dates
    assert path.read_text().startswith(",Open,High,Low,Close,Volume\n2004-08-19,")

    code, out, err = _import(path, "--symbol", "GOOG", "--timeframe", "1d", "--json")

    assert code == 0, err
    assert orjson.loads(out)["inserted"] == len(GOOG)
    stored = _stored(database_url, "GOOG")
    # each date is the session date: 00:00 UTC of that day, whatever the exchange's zone
    assert [t for t, _, _ in stored] == [
        datetime(d.year, d.month, d.day, tzinfo=UTC) for d in GOOG.index
    ]
    assert [c for _, _, c in stored] == [Decimal(repr(c)) for c in GOOG.Close]


def test_session_dates_ignore_tz_and_intraday_dates_still_need_a_zone(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "goog.csv"
    GOOG.head(5).to_csv(path)

    code, _, err = _import(
        path, "--symbol", "GOOG", "--timeframe", "1d", "--tz", "America/New_York"
    )
    assert code == 0, err
    assert _stored(database_url, "GOOG")[0][0] == datetime(2004, 8, 19, tzinfo=UTC)

    code, _, err = _import(path, "--symbol", "GOOG", "--timeframe", "1h")
    assert code == 2
    assert "row 1, column : '2004-08-19' has no time zone" in err


def _yahoo_csv(path: Path) -> pd.DataFrame:
    """GOOG as Yahoo writes it, with a `Close` no bar could have (above the high) and the
    real close in `Adj Close`."""
    frame = GOOG.head(50).rename_axis("Date")
    frame.insert(4, "Adj Close", frame.Close)
    frame["Close"] = frame.High * 10
    frame.to_csv(path)
    return frame


def test_columns_map_adj_close_as_the_close(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "goog-yahoo.csv"
    frame = _yahoo_csv(path)

    code, _, err = _import(path, "--symbol", "GOOG", "--timeframe", "1d")
    assert code == 2
    assert "row 1, column High: high 104.06 is below max(open 100.0, close 1040.6)" in err

    mapping = "open=Open,high=High,low=Low,close=Adj Close,volume=Volume"
    code, _, err = _import(path, "--symbol", "GOOG", "--timeframe", "1d", "--columns", mapping)
    assert code == 0, err
    assert [c for _, _, c in _stored(database_url, "GOOG")] == [
        Decimal(repr(c)) for c in frame["Adj Close"]
    ]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("close=Adj_Close", "no column 'Adj_Close'"),
        ("price=Close", "cannot map 'price'"),
        ("close", "write VALUE=COLUMN"),
    ],
)
def test_columns_bad_mapping_exits_2_naming_it(
    database_url: str, tmp_path: Path, mapping: str, message: str
) -> None:
    path = tmp_path / "goog-yahoo.csv"
    _yahoo_csv(path)
    code, _, err = _import(path, "--symbol", "GOOG", "--timeframe", "1d", "--columns", mapping)
    assert code == 2
    assert message in err
    assert _stored(database_url, "GOOG") == []


def _dukascopy_csv(path: Path, rows: int = 200) -> pd.DataFrame:
    """EURUSD hours as Dukascopy exports them: `Gmt time` as `01.01.2017 22:00:00.000`."""
    frame = EURUSD.head(rows)
    out = frame.copy()
    out.index = frame.index.strftime("%d.%m.%Y %H:%M:%S.000")
    out.rename_axis("Gmt time").to_csv(path)
    return frame


DUKASCOPY = ("--time-column", "Gmt time", "--time-format", "%d.%m.%Y %H:%M:%S.%f")


def test_time_format_reads_dukascopy_times(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "EURUSD_Candlestick_1_Hour_BID.csv"
    frame = _dukascopy_csv(path)
    assert path.read_text().splitlines()[1].startswith("19.04.2017 09:00:00.000,")

    code, out, err = _import(
        path, "--symbol", "EURUSD", "--timeframe", "1h", *DUKASCOPY, "--tz", "UTC", "--json"
    )

    assert code == 0, err
    assert orjson.loads(out)["inserted"] == len(frame)
    stored = _stored(database_url, "EURUSD")
    assert [t for t, _, _ in stored] == [t.tz_localize("UTC").to_pydatetime() for t in frame.index]
    assert [o for _, o, _ in stored] == [Decimal(repr(o)) for o in frame.Open]


def test_time_format_mismatch_exits_2_naming_file_row_and_column(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "eurusd.csv"
    _dukascopy_csv(path, rows=3)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("19.04.2017 10:00:00.000", "2017-04-19 10:00:00")
    path.write_text("\n".join(lines) + "\n")

    code, _, err = _import(
        path, "--symbol", "EURUSD", "--timeframe", "1h", *DUKASCOPY, "--tz", "UTC"
    )

    assert code == 2
    assert (
        f"{path}: row 2, column Gmt time: '2017-04-19 10:00:00' does not match the time format"
        in err
    )
    assert _stored(database_url, "EURUSD") == []


def test_time_column_unknown_exits_2_naming_it(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "eurusd.csv"
    _dukascopy_csv(path, rows=3)
    code, _, err = _import(path, "--symbol", "X", "--timeframe", "1h", "--time-column", "When")
    assert code == 2
    assert "no column 'When'" in err

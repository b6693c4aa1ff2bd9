"""`velocitas research regimes` on the real database: as of an instant, over a range, bad input."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
from backtesting.test import EURUSD
from typer.testing import CliRunner

from velocitas.research.regimes import Regime, classify_regimes
from velocitas_cli.main import app

runner = CliRunner()


def _expected(upto: int) -> tuple[str, float | None]:
    found = classify_regimes(
        EURUSD["High"].to_numpy(), EURUSD["Low"].to_numpy(), EURUSD["Close"].to_numpy()
    )
    confidence = found.confidence[upto]
    return Regime(int(found.labels[upto])).label, None if np.isnan(confidence) else confidence


def test_research_regimes_at_an_instant_uses_the_bars_closed_by_then(eurusd: str) -> None:
    k = 3000
    at = pd.Timestamp(EURUSD.index[k], tz="UTC") + pd.Timedelta(minutes=90)  # bar k + 1 is open
    result = runner.invoke(
        app, ["research", "regimes", "EURUSD", "1h", "--at", at.isoformat(), "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = orjson.loads(result.stdout)
    regime, confidence = _expected(k)
    assert answer["regime"] == regime
    assert answer["confidence"] == round(confidence, 6)
    assert answer["opened_at"].startswith(str(EURUSD.index[k].date()))


def test_research_regimes_over_a_range_prints_runs_and_json_series(eurusd: str) -> None:
    start, end = EURUSD.index[100], EURUSD.index[400]
    args = ["research", "regimes", "EURUSD", "1h", "--start", str(start), "--end", str(end)]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "bars per regime" in shown.output
    series = orjson.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert len(series["regime"]) == 300
    assert series["regime"][-1] == _expected(399)[0]


def test_research_regimes_bad_input_exits_2_naming_it(eurusd: str) -> None:
    for args, word in (
        (["EURUSD", "2h"], "timeframe"),
        (["GBPUSD", "1h"], "GBPUSD"),
        (["EURUSD", "1h", "--start", "2018-01-01"], "--end"),
        (["EURUSD", "1h", "--at", "1990-01-01"], "closed by"),
        (["EURUSD", "1h", "--at", "1200-01-01"], "closed by"),
    ):
        result = runner.invoke(app, ["research", "regimes", *args])
        assert result.exit_code == 2, result.output
        assert word in result.output

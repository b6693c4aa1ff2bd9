"""`velocitas backtest run | strategies` through typer's runner on the real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from velocitas.db.bars import load_bars
from velocitas.domain.timeframe import Timeframe
from velocitas.engine import BacktestSpec, run_backtest
from velocitas.ingest import import_table
from velocitas.strategies import registry
from velocitas.synth import synth_bars
from velocitas_cli.main import app

runner = CliRunner()
START = datetime(2024, 1, 1, tzinfo=UTC)
RANGE = ["--timeframe", "1m", "--start", "2024-01-01T00:00:00Z", "--end", "2024-01-02T00:00:00Z"]
SMA = ["--symbol", "SYN", "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=50"]


@pytest.fixture
def stored(database_url: str) -> str:
    """1,440 synthetic 1m bars of SYN and ALT on 2024-01-01 in the test database."""
    for symbol, seed in (("SYN", 7), ("ALT", 8)):
        import_table(synth_bars(1440, Timeframe.M1, seed, START), symbol=symbol, timeframe="1m")
    return database_url


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["backtest", "run", *RANGE, *args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def _spec(**extra: object) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {
            "symbol": "SYN",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 50}},
            "timeframe": "1m",
            "start": START,
            "end": datetime(2024, 1, 2, tzinfo=UTC),
            "initial_cash": "10000",
            **extra,
        }
    )


def test_backtest_run_prints_metrics_tables(stored: str) -> None:
    code, out, err = _invoke(*SMA)
    assert code == 0, err
    expected = run_backtest(_spec(), {"SYN": load_bars("SYN", "1m", START, None)})
    for label in ("Total return", "Sharpe", "Max drawdown", "Win rate", "P&L per leg"):
        assert label in out
    assert f"result hash {expected.result_hash}" in out
    assert f"{expected.metrics['total_return'] * 100:.2f}%" in out  # type: ignore[operator]
    assert f"{expected.metrics['sharpe']:.3f}" in out
    assert f"last 10 of {len(expected.trades)} trades" in out


def test_backtest_run_json_equals_run_backtest_to_dict(stored: str) -> None:
    options = ["--fee", "0.1%", "--slippage", "2bps", "--stop-loss", "2%", "--take-profit", "3atr"]
    code, out, err = _invoke(*SMA, *options, "--json")
    assert code == 0, err
    spec = _spec(
        fees={"rate": "0.001"},
        slippage_bps="2",
        stops={
            "stop_loss": {"kind": "percent", "value": "0.02"},
            "take_profit": {"kind": "atr", "value": "3"},
        },
    )
    bars = {"SYN": load_bars("SYN", "1m", spec.start, spec.end)}
    expected = run_backtest(spec, bars).to_dict(include_equity=False)
    assert orjson.loads(out) == orjson.loads(orjson.dumps(expected))
    assert expected["trades"], "the run should trade, else the comparison proves little"


def test_backtest_run_json_with_equity_and_every_option(stored: str) -> None:
    options = [
        *["--cash", "5000", "--fee", "10bps", "--fixed-fee", "0.5", "--slippage", "0.01%"],
        *["--fill", "same_close", "--quantity", "2", "--lot", "0.01", "--stop-loss", "3atr"],
        *["--trailing-stop", "1.5%", "--path", "adaptive", "--allow-short"],
        *["--max-position", "90%", "--max-daily-loss", "5%", "--max-drawdown", "20%"],
        *["--cooldown", "3:60", "--leg", "ALT:ema_cross:fast=5,slow=30"],
    ]
    code, out, err = _invoke(*SMA, *options, "--json", "--with-equity")
    assert code == 0, err
    spec = BacktestSpec.model_validate(
        {
            "legs": [
                {
                    "symbol": "SYN",
                    "strategy": {
                        "name": "sma_cross",
                        "params": {"fast": 10, "slow": 50, "allow_short": True},
                    },
                },
                {
                    "symbol": "ALT",
                    "strategy": {
                        "name": "ema_cross",
                        "params": {"fast": 5, "slow": 30, "allow_short": True},
                    },
                },
            ],
            "timeframe": "1m",
            "start": START,
            "end": datetime(2024, 1, 2, tzinfo=UTC),
            "initial_cash": "5000",
            "fees": {"rate": "0.001", "fixed": "0.5"},
            "slippage_bps": "1",
            "fill": "same_close",
            "sizing": {"mode": "fixed_quantity", "value": "2", "lot_size": "0.01"},
            "stops": {
                "stop_loss": {"kind": "atr", "value": "3"},
                "trailing_stop": {"kind": "percent", "value": "0.015"},
                "intrabar_path": "adaptive",
            },
            "risk": {
                "max_position": "0.9",
                "max_daily_loss": "0.05",
                "max_drawdown": "0.2",
                "cooldown_losses": 3,
                "cooldown_bars": 60,
            },
            "allow_short": True,
        }
    )
    bars = {s: load_bars(s, "1m", spec.start, spec.end) for s in spec.symbols}
    expected = run_backtest(spec, bars).to_dict()
    got = orjson.loads(out)
    assert got == orjson.loads(orjson.dumps(expected))
    assert len(got["equity"]["equity"]) == 1440
    assert {t["side"] for t in got["trades"]} == {"long", "short"}
    assert set(got["breakdown"]["by_symbol"]) == {"SYN", "ALT"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "fast=60"], "legs[0].strategy.params.slow"),
        (["--param", "fast=0"], "legs[0].strategy.params.fast"),
        (["--param", "speed=3"], "unknown parameter 'speed'"),
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--fee", "20%"], "--fee (fees.rate)"),
        (["--stop-loss", "150%"], "--stop-loss (stops.stop_loss)"),
        (["--fill", "later"], "--fill (fill)"),
        (["--cooldown", "3"], "--cooldown '3': expected LOSSES:BARS"),
        (["--size", "50%", "--quantity", "1"], "only one of --size, --quantity"),
        (["--size", "150%"], "at most 1 for fraction_of_equity"),
        (["--cash", "lots"], "--cash 'lots' is not a number"),
        (["--leg", "ALT"], "--leg 'ALT': expected SYMBOL:STRATEGY"),
    ],
)
def test_backtest_run_bad_option_exits_2_naming_it(
    stored: str, args: list[str], message: str
) -> None:
    base = [a for a in SMA if a not in ("--strategy", "sma_cross")] if "--strategy" in args else SMA
    code, out, err = _invoke(*base, *args)
    assert code == 2, out
    assert message in err


def test_backtest_run_empty_range_exits_2(stored: str) -> None:
    result = runner.invoke(
        app,
        [
            "backtest",
            "run",
            *SMA,
            "--timeframe",
            "1m",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-01",
        ],
    )
    assert result.exit_code == 2
    assert "--end 2024-01-01 must be after --start 2024-01-02" in " ".join(result.stderr.split())


def test_backtest_run_no_bars_exits_2(stored: str) -> None:
    code, _, err = _invoke("--symbol", "NOPE", "--strategy", "sma_cross")
    assert code == 2
    assert "legs[0].symbol: no 1m bars for 'NOPE'" in err


def test_backtest_run_writes_self_contained_html(stored: str, tmp_path: Path) -> None:
    pages = []
    for name in ("a.html", "b.html"):
        code, _out, err = _invoke(*SMA, "--html", str(tmp_path / name))
        assert code == 0, err
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]
    page = pages[0].decode()
    assert "<script src" not in page
    assert "Plotly.newPlot('equity-chart'" not in page  # ids are JSON strings
    assert 'Plotly.newPlot("equity-chart"' in page
    assert 'Plotly.newPlot("price-chart-0"' in page


def test_backtest_run_html_into_missing_folder_exits_2(stored: str, tmp_path: Path) -> None:
    code, _, err = _invoke(*SMA, "--html", str(tmp_path / "no" / "r.html"))
    assert code == 2
    assert "--html" in err
    assert "No such file or directory" in err


def test_backtest_strategies_json_lists_registry(database_url: str) -> None:
    result = runner.invoke(app, ["backtest", "strategies", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == orjson.loads(orjson.dumps(registry.describe()))


def test_backtest_strategies_table_names_every_strategy(database_url: str) -> None:
    result = runner.invoke(app, ["backtest", "strategies"])
    assert result.exit_code == 0, result.output
    for name in registry.names():
        assert name in result.stdout

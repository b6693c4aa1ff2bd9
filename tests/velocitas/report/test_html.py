from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import numpy as np
import orjson
import plotly.graph_objects as go
import pytest

from tests.velocitas.engine.market import gbm_bars
from velocitas.engine import BacktestResult, BacktestSpec, run_backtest
from velocitas.report import render_html
from velocitas.report.html import MAX_TABLE_TRADES, _js, _row, equity_figure, price_figure
from velocitas.report.summary import format_money

SPEC = BacktestSpec.model_validate(
    {
        "symbol": "BTCUSDT",
        "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20, "allow_short": True}},
        "timeframe": "1m",
        "start": datetime(2024, 1, 1, tzinfo=UTC),
        "end": datetime(2025, 1, 1, tzinfo=UTC),
        "initial_cash": "10000",
        "allow_short": True,
    }
)


def _run(n: int) -> tuple[BacktestResult, dict]:
    bars = {"BTCUSDT": gbm_bars(n)}
    return run_backtest(SPEC, bars), bars


def test_render_html_is_self_contained_and_deterministic() -> None:
    page = render_html(*_run(3_000)[:1], SPEC, _run(3_000)[1])
    second = render_html(*_run(3_000)[:1], SPEC, _run(3_000)[1])  # fresh objects, same inputs
    assert page.encode() == second.encode()
    assert re.search(r"plotly\.js v\d+\.\d+\.\d+", page)  # the library itself is inlined
    library = page.index("<script>"), page.index("</script>")
    ours = page[: library[0]] + page[library[1] :]  # the page without plotly.js' own text
    assert "<script src" not in ours
    assert "<link" not in ours
    assert "http" not in ours
    assert 'Plotly.newPlot("equity-chart"' in page
    assert 'Plotly.newPlot("price-chart-0"' in page


def test_render_html_lists_every_trade_and_metric() -> None:
    result, bars = _run(3_000)
    page = render_html(result, SPEC, bars)
    assert 0 < len(result.trades) <= MAX_TABLE_TRADES
    body = page[page.index("<body>") :]
    assert body.count("<tr><td>0</td><td>BTCUSDT</td>") == len(result.trades)
    for trade in result.trades[:: max(1, len(result.trades) // 10)]:
        assert format(trade.entry_price.normalize(), "f") in body
        assert trade.entry_at.isoformat().replace("+00:00", "Z") in body
    assert format_money(result.final_equity) in body
    assert result.result_hash in body
    assert "Sharpe" in body
    assert "Max drawdown" in body


def test_script_json_cannot_close_the_script_element() -> None:
    text = _js({"name": "</script><script>alert(1)</script>"})
    assert "</" not in text
    assert orjson.loads(text.replace("<\\/", "</"))["name"].startswith("</script>")


def test_figures_are_valid_plotly_with_markers_for_every_trade() -> None:
    result, bars = _run(3_000)
    go.Figure(equity_figure(result))  # raises on an unknown property
    price = price_figure("BTCUSDT", bars["BTCUSDT"], result)
    go.Figure(price)
    markers = [t for t in price["data"] if t["mode"] == "markers"]
    entries = sum(len(t["x"]) for t in markers if t["name"].endswith("entry"))
    exits = sum(len(t["x"]) for t in markers if t["name"].endswith("exit"))
    assert entries == exits == len(result.trades)
    assert {t["name"] for t in markers} >= {"long entry", "short entry"}


def test_equity_figure_downsamples_long_curves_keeping_the_low() -> None:
    result, _ = _run(60_000)
    figure = equity_figure(result, max_points=2_000)
    equity, drawdown = figure["data"]
    assert len(equity["y"]) <= 2_000
    assert len(drawdown["y"]) <= 2_000
    assert float(np.min(equity["y"])) == float(np.min(result.equity.equity))
    full = result.equity.equity
    peak = np.maximum.accumulate(np.concatenate([[float(SPEC.initial_cash)], full]))[1:]
    assert float(np.min(drawdown["y"])) == float(np.min((full / peak - 1.0) * 100.0))


@pytest.mark.parametrize(
    "cells",
    [
        ("0", "BTC<USDT>", "long", "1.5", "a & b", "\"quoted\" 'single'"),
        ("nul\x00inside", "<b>", "x"),  # a NUL of its own: escaped cell by cell
        ("only",),
        (),
    ],
)
def test_a_row_is_escaped_as_cell_by_cell(cells: tuple[str, ...]) -> None:
    expected = "<tr>" + "".join(f"<td>{html.escape(c, quote=True)}</td>" for c in cells) + "</tr>"
    assert _row(cells) == expected

"""One backtest as a self-contained HTML page: metrics, P&L tables, charts, trades.

The page works offline: plotly.js is inlined (about 4.7 MB, from the installed `plotly`
package), nothing is fetched. Charts: equity with its drawdown below on a shared, zoomable time
axis, and one price chart per symbol with every trade's entry (triangle up for a long, down for
a short) and exit (a cross, green for a winner, red for a loser, hover for details).

Curves longer than `MAX_POINTS` are downsampled for display with `minmax_indices` (each bucket
keeps its first, lowest, highest and last point); markers are never dropped. The trades table
lists every trade up to `MAX_TABLE_TRADES`, else the first and last halves of that many.

Same result, same bytes: no generation time, fixed element ids, data serialised by orjson.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from velocitas.domain.bars import BarArrays
from velocitas.domain.trades import Trade
from velocitas.engine.result import BacktestResult, PnlSummary
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import ConfigurationError
from velocitas.report.downsample import MAX_POINTS, minmax_indices
from velocitas.report.summary import (
    TRADE_COLUMNS,
    headline_rows,
    pnl_rows,
    trade_rows,
    trade_summary_rows,
)

__all__ = [
    "MAX_TABLE_TRADES",
    "equity_curve_figure",
    "equity_figure",
    "price_figure",
    "render_html",
]

MAX_TABLE_TRADES = 5_000
_GREEN, _RED, _GREY, _BLUE = "#1a9850", "#d73027", "#7f7f7f", "#2c7fb8"
_NS_PER_MS = 1_000_000
_CONFIG = {"responsive": True, "displaylogo": False}


def render_html(
    result: BacktestResult,
    spec: BacktestSpec,
    bars: Mapping[str, BarArrays],
    *,
    max_points: int = MAX_POINTS,
) -> str:
    """The report page for `result` of `spec`; `bars` (by symbol) draw the price charts."""
    figures = [("equity-chart", equity_figure(result, max_points=max_points))]
    for index, symbol in enumerate(spec.symbols):
        series = bars.get(symbol)
        if series is not None:
            price = series.between(spec.start, spec.end)
            figure = price_figure(symbol, price, result, max_points=max_points)
            figures.append((f"price-chart-{index}", figure))
    title = _title(spec)
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_e(_span(spec))}</p>",
        "<div class='grid'>",
        _section("Performance", _table(("metric", "value"), headline_rows(result))),
        _section("Trades summary", _table(("", "value"), trade_summary_rows(result))),
        "</div>",
        _breakdown(result),
        *(f"<div id='{div}' class='chart'></div>" for div, _ in figures),
        _section(f"Trades ({len(result.trades):,})", _trades_table(result.trades)),
        _section("Specification", f"<pre>{_e(_spec_json(spec))}</pre>"),
    ]
    scripts = "\n".join(
        f"Plotly.newPlot({_js(div)}, {_js(fig['data'])}, {_js(fig['layout'])}, {_js(_CONFIG)});"
        for div, fig in figures
    )
    return _PAGE.format(
        title=_e(title),
        css=_CSS,
        body="\n".join(body),
        plotly=plotly_js(),
        scripts=scripts,
    )


def equity_figure(result: BacktestResult, *, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Equity (top) and drawdown in percent (bottom) on one shared time axis, as plotly JSON."""
    return equity_curve_figure(
        result.equity.opened_at,
        result.equity.equity,
        float(result.initial_cash),
        max_points=max_points,
    )


def equity_curve_figure(
    opened_at_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    initial_cash: float,
    *,
    title: str = "Equity and drawdown",
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """`equity_figure` of any equity curve (one value per bar open), e.g. a stitched one."""
    times = _ms(opened_at_ns)
    start = initial_cash
    peak = np.maximum.accumulate(np.concatenate([[start], equity]))[1:]
    drawdown = (equity / peak - 1.0) * 100.0
    keep_e = minmax_indices(equity, max_points)
    keep_d = minmax_indices(drawdown, max_points)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "equity",
                "x": times[keep_e],
                "y": equity[keep_e],
                "line": {"color": _BLUE, "width": 1.5},
                "hovertemplate": "%{x}<br>equity %{y:,.2f}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "drawdown %",
                "x": times[keep_d],
                "y": drawdown[keep_d],
                "yaxis": "y2",
                "fill": "tozeroy",
                "line": {"color": _RED, "width": 1},
                "hovertemplate": "%{x}<br>drawdown %{y:.2f}%<extra></extra>",
            },
        ],
        "layout": {
            "title": {"text": title},
            "height": 560,
            "hovermode": "x unified",
            "showlegend": False,
            "xaxis": {"type": "date", "rangeslider": {"visible": False}},
            "yaxis": {"title": {"text": "equity"}, "domain": [0.34, 1.0]},
            "yaxis2": {"title": {"text": "drawdown %"}, "domain": [0.0, 0.28], "anchor": "x"},
            "margin": {"l": 70, "r": 20, "t": 50, "b": 40},
        },
    }


def price_figure(
    symbol: str, bars: BarArrays, result: BacktestResult, *, max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """`symbol`'s close with the entries and exits of every trade in it, as plotly JSON."""
    keep = minmax_indices(bars.close, max_points)
    grid = _ms(result.equity.opened_at)
    trades = [t for t in result.trades if t.symbol == symbol]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "close",
            "x": _ms(bars.opened_at)[keep],
            "y": bars.close[keep],
            "line": {"color": _GREY, "width": 1},
            "hovertemplate": "%{x}<br>close %{y}<extra></extra>",
        }
    ]
    for side, symbol_shape, colour in (
        ("long", "triangle-up", _GREEN),
        ("short", "triangle-down", _RED),
    ):
        entries = [t for t in trades if t.side == side]
        if entries:
            data.append(
                _markers(f"{side} entry", entries, grid, symbol_shape, colour, at_exit=False)
            )
    for outcome, colour, chosen in (
        ("winning exit", _GREEN, [t for t in trades if t.net_pnl > 0]),
        ("losing exit", _RED, [t for t in trades if t.net_pnl < 0]),
        ("flat exit", _GREY, [t for t in trades if t.net_pnl == 0]),
    ):
        if chosen:
            data.append(_markers(outcome, chosen, grid, "x", colour, at_exit=True))
    return {
        "data": data,
        "layout": {
            "title": {"text": f"{symbol} {bars.timeframe}: trades"},
            "height": 480,
            "hovermode": "closest",
            "xaxis": {"type": "date"},
            "yaxis": {"title": {"text": "price"}},
            "legend": {"orientation": "h"},
            "margin": {"l": 70, "r": 20, "t": 50, "b": 40},
        },
    }


def _markers(
    name: str,
    trades: Sequence[Trade],
    grid_ms: npt.NDArray[np.int64],
    shape: str,
    colour: str,
    *,
    at_exit: bool,
) -> dict[str, Any]:
    bars = [t.exit_bar if at_exit else t.entry_bar for t in trades]
    prices = [float(t.exit_price if at_exit else t.entry_price) for t in trades]
    text = [
        f"leg {t.leg} {t.strategy} {t.side} {format(t.quantity, 'f')}<br>"
        f"net P&L {t.net_pnl:.2f} ({t.return_fraction * 100:.2f}%)<br>exit: {t.exit_reason}"
        for t in trades
    ]
    return {
        "type": "scattergl" if len(trades) > 2_000 else "scatter",
        "mode": "markers",
        "name": name,
        "x": grid_ms[np.asarray(bars, dtype=np.int64)],
        "y": prices,
        "text": text,
        "marker": {"symbol": shape, "color": colour, "size": 9},
        "hovertemplate": "%{x}<br>%{y}<br>%{text}<extra>" + name + "</extra>",
    }


def _ms(opened_at_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # Plotly reads numbers on a date axis as epoch milliseconds: compact and exact.
    return np.asarray(opened_at_ns, dtype=np.int64) // _NS_PER_MS


def _breakdown(result: BacktestResult) -> str:
    breakdown = result.breakdown
    parts = [
        _pnl_section("P&L per leg", {f"leg {k}": v for k, v in breakdown.by_leg.items()}),
        _pnl_section("P&L per symbol", breakdown.by_symbol),
        _pnl_section("P&L per strategy", breakdown.by_strategy),
        _pnl_section("P&L overall", {"all": breakdown.overall}),
    ]
    return "<div class='grid'>" + "".join(parts) + "</div>"


def _pnl_section(title: str, slices: dict[str, PnlSummary]) -> str:
    return _section(title, _table(("", "trades", "gross", "fees", "net"), pnl_rows(slices)))


def _trades_table(trades: Sequence[Trade]) -> str:
    if len(trades) <= MAX_TABLE_TRADES:
        return _table(TRADE_COLUMNS, trade_rows(trades))
    half = MAX_TABLE_TRADES // 2
    note = (
        f"<p class='muted'>{len(trades):,} trades: the first and last {half:,} are listed; "
        "every trade is in the JSON result (<code>--json</code>).</p>"
    )
    rows = [*trade_rows(trades[:half]), ("…",) * len(TRADE_COLUMNS), *trade_rows(trades[-half:])]
    return note + _table(TRADE_COLUMNS, rows)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(map(_row, rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _row(cells: Sequence[object]) -> str:
    """`<tr>` of escaped cells, escaped in one call per row, not per cell (a long run lists
    thousands of trades): the cells are joined on NUL, which escaping leaves alone, and the
    NULs become the cell tags; a row with a NUL of its own is escaped cell by cell."""
    texts = [str(c) for c in cells]
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        return "<tr>" + "".join(f"<td>{_e(t)}</td>" for t in texts) + "</tr>"
    return "<tr><td>" + _e(joined).replace("\x00", "</td><td>") + "</td></tr>"


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{content}</section>"


def _title(spec: BacktestSpec) -> str:
    legs = ", ".join(f"{leg.strategy.name} on {leg.symbol}" for leg in spec.legs)
    return f"Backtest: {legs} ({spec.timeframe})"


def _span(spec: BacktestSpec) -> str:
    return f"{spec.start.isoformat()} to {spec.end.isoformat()} (end exclusive)"


def _spec_json(spec: BacktestSpec) -> str:
    return orjson.dumps(spec.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _js(value: Any) -> str:
    """JSON for inside a <script>: '</' is escaped so no string can end the script early."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return text.replace("</", "<\\/")


@cache  # 4.7 MB read once per process: a worker draws a page per backtest
def plotly_js() -> str:
    """plotly.js as every page inlines it."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # plotly is an optional extra: velocitas[report]
        raise ConfigurationError(
            "the HTML report needs plotly: pip install 'velocitas[report]'"
        ) from exc
    return str(get_plotlyjs())


_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin: 0 0 6px; }
.muted { color: #666; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
section { margin: 16px 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { width: 100%; margin: 16px 0; }
pre { background: #f6f6f6; padding: 8px; font-size: 0.8em; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
<script>{plotly}</script>
</head>
<body>
{body}
<script>
{scripts}
</script>
</body>
</html>
"""

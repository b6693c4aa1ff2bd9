"""Backtest reports: the same content as terminal tables and as a self-contained HTML page.

    headline_rows(result)            -> [(label, text)]  the metrics a reader looks at first
    trade_summary_rows(result)       -> [(label, text)]  counts by side and exit reason
    render_html(result, spec, bars)  -> str             offline HTML with interactive charts
    gzip_report(page)                -> bytes           that page gzip-compressed, fast

Rendering lives in `core` rather than in the CLI so that the gateway or a worker can produce
the very same page from a stored result.
"""

from velocitas.report.compressed import gzip_report
from velocitas.report.downsample import MAX_POINTS, minmax_indices
from velocitas.report.html import render_html
from velocitas.report.summary import headline_rows, pnl_rows, trade_rows, trade_summary_rows

__all__ = [
    "MAX_POINTS",
    "gzip_report",
    "headline_rows",
    "minmax_indices",
    "pnl_rows",
    "render_html",
    "trade_rows",
    "trade_summary_rows",
]

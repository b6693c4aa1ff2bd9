"""A walk-forward as a self-contained HTML page: stitched metrics, the stitched out-of-sample
equity with its drawdown (the chart of a single run's page), and one row per fold.

Works offline and renders the same bytes for the same result, like `render_html`. It reads the
result through `StitchedRun`, which `velocitas.research.walk_forward.WalkForwardResult`
satisfies, so the report layer needs nothing from the research layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from velocitas.engine.spec import BacktestSpec
from velocitas.report.downsample import MAX_POINTS
from velocitas.report.html import (
    _CONFIG,
    _CSS,
    _PAGE,
    _e,
    _js,
    _section,
    _span,
    _spec_json,
    _table,
    equity_curve_figure,
    plotly_js,
)
from velocitas.report.summary import display_number

__all__ = ["StitchedRun", "render_walk_forward_html"]

_FOLD_COLUMNS = ("fold", "in sample", "out of sample", "params", "IS objective", "OOS return")


class StitchedRun(Protocol):
    """What the page reads of a walk-forward result."""

    @property
    def folds(self) -> Sequence[dict[str, Any]]: ...
    @property
    def opened_at(self) -> npt.NDArray[np.int64]: ...
    @property
    def equity(self) -> npt.NDArray[np.float64]: ...
    @property
    def metrics(self) -> Mapping[str, Any]: ...
    @property
    def initial_cash(self) -> Decimal: ...
    @property
    def final_equity(self) -> Decimal: ...
    @property
    def objective(self) -> str: ...
    @property
    def anchored(self) -> bool: ...


def render_walk_forward_html(
    result: StitchedRun, spec: BacktestSpec, *, max_points: int = MAX_POINTS
) -> str:
    """The report page of walk-forward `result` over `spec` (its base backtest)."""
    leg = spec.legs[0]
    kind = "anchored" if result.anchored else "rolling"
    title = f"Walk-forward ({kind}): {leg.strategy.name} on {leg.symbol} ({spec.timeframe})"
    figure = equity_curve_figure(
        result.opened_at,
        result.equity,
        float(result.initial_cash),
        title="Stitched out-of-sample equity and drawdown",
        max_points=max_points,
    )
    metrics = [(name, display_number(value)) for name, value in result.metrics.items()]
    metrics += [
        ("initial_cash", str(result.initial_cash)),
        ("final_equity", str(result.final_equity)),
    ]
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_e(_span(spec))}; objective {_e(result.objective)}</p>",
        _section("Stitched out-of-sample metrics", _table(("metric", "value"), metrics)),
        "<div id='equity-chart' class='chart'></div>",
        _section(f"Folds ({len(result.folds)})", _table(_FOLD_COLUMNS, _fold_rows(result.folds))),
        _section("Specification", f"<pre>{_e(_spec_json(spec))}</pre>"),
    ]
    script = (
        f"Plotly.newPlot({_js('equity-chart')}, {_js(figure['data'])}, "
        f"{_js(figure['layout'])}, {_js(_CONFIG)});"
    )
    return _PAGE.format(
        title=_e(title), css=_CSS, body="\n".join(body), plotly=plotly_js(), scripts=script
    )


def _fold_rows(folds: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for fold in folds:
        outcome = fold.get("out_of_sample_result") or {}
        rows.append(
            [
                str(fold["index"]),
                " to ".join(fold["in_sample"]),
                " to ".join(fold["out_of_sample"]),
                ", ".join(f"{k}={v}" for k, v in (fold.get("params") or {}).items())
                or fold.get("skipped", "-"),
                display_number(fold.get("in_sample_objective")),
                display_number(outcome.get("total_return")),
            ]
        )
    return rows

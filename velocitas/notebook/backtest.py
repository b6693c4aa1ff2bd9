"""`Backtest`: the engine, the sweep and the report's chart behind three lines of a notebook.

    bt = Backtest(df, "sma_cross", params={"fast": 10, "slow": 30}, cash=10_000)
    stats = bt.run()                        # pandas Series of the report's metrics
    bt.trades, bt.equity                    # DataFrames
    bt.plot()                               # the HTML report's chart, inline
    bt.optimize(fast=range(5, 30, 5), slow=[50, 100])   # ranking DataFrame + best params

Nothing here is a second engine: a run is `run_backtest`, an optimisation `run_sweep`, the chart
the report's `equity_figure` and `price_figure`, on a `BacktestSpec` built from the options.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from velocitas.domain.bars import BarArrays, from_epoch_ns
from velocitas.domain.timeframe import Timeframe
from velocitas.engine.result import BacktestResult
from velocitas.engine.runner import run_backtest
from velocitas.engine.spec import BacktestSpec
from velocitas.errors import ConfigurationError, InvalidRequest
from velocitas.notebook.frames import bars_from_frame, equity_frame, stats_series, trades_frame
from velocitas.report.html import equity_figure, price_figure
from velocitas.research.grid import grid_combinations
from velocitas.research.objectives import Direction
from velocitas.research.sweeps import SweepResult, run_sweep
from velocitas.strategies import Strategy, registry

__all__ = ["Backtest", "Optimization"]

_STOPS = ("stop_loss", "take_profit", "trailing_stop")


class Backtest:
    """A backtest of one strategy on one pandas DataFrame of OHLCV rows.

    `data`: a DataFrame with open/high/low/close (volume optional) columns under any common
    spelling and a DatetimeIndex or a time column; naive times are UTC (see
    `velocitas.notebook.frames`). `strategy`: a registered name (`"sma_cross"`), a `Strategy`
    subclass of your own (registered on the spot, so sweeps run it too) or an instance.
    `params`: the strategy's parameters. `timeframe` is inferred from the spacing unless given.

    Every other keyword is a `BacktestSpec` field (`initial_cash`, `fees`, `slippage_bps`,
    `fill`, `sizing`, `stops`, `risk`, `allow_short`, ...) with a few shorthands: `cash` for
    `initial_cash` (10 000 by default), `fees=0.002` for the rate, `lot=1` for
    `sizing.lot_size`, and `stop_loss=0.05` (also `take_profit`, `trailing_stop`) for a
    percent stop. `allow_short=True` also turns on the strategy's own `allow_short`, as the
    CLI's `--allow-short` does. Bad input raises `InvalidRequest` naming the field.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        strategy: str | type[Strategy] | Strategy,
        *,
        params: Mapping[str, Any] | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        columns: Mapping[str, str] | None = None,
        time_column: str | None = None,
        cash: Any = 10_000,
        **options: Any,
    ) -> None:
        self.strategy, self.params, self._registered_here = _strategy(strategy, params)
        self.bars: BarArrays = bars_from_frame(
            data,
            symbol=symbol or str(getattr(data, "attrs", {}).get("symbol") or "ASSET"),
            timeframe=timeframe,
            columns=columns,
            time_column=time_column,
        )
        self._options = _spec_options(cash, options)
        self.spec: BacktestSpec = self._spec(self.params)
        self.result: BacktestResult | None = None
        self._ran = self.spec

    def run(self, **params: Any) -> pd.Series:
        """Run the backtest (with `params` overriding the strategy's parameters for this run)
        and return its statistics; `trades`, `equity` and `result` then describe this run."""
        spec = self._spec({**self.params, **params}) if params else self.spec
        self.result = run_backtest(spec, {self.bars.symbol: self.bars})
        self._ran = spec
        return stats_series(self.result, name=self.strategy)

    @property
    def trades(self) -> pd.DataFrame:
        """The last run's closed trades (see `velocitas.notebook.frames.trades_frame`)."""
        return trades_frame(self._result().trades)

    @property
    def equity(self) -> pd.DataFrame:
        """The last run's equity and drawdown per bar."""
        return equity_frame(self._result())

    def plot(self) -> Any:
        """The HTML report's chart as a plotly `Figure` (it draws itself in Jupyter): the price
        with every entry and exit on top, equity and drawdown below, on one zoomable time axis.
        Needs plotly (`pip install 'velocitas[notebook]'`)."""
        try:
            import plotly.graph_objects as go
        except ImportError as exc:
            raise ConfigurationError(
                "plot() needs plotly: pip install 'velocitas[notebook]'"
            ) from exc
        result = self._result()
        shown = self.bars.between(self._ran.start, self._ran.end)
        price = price_figure(self.bars.symbol, shown, result)
        equity = equity_figure(result)
        data = [*equity["data"], *({**trace, "yaxis": "y3"} for trace in price["data"])]
        layout = {
            **equity["layout"],
            "title": {"text": f"{self.strategy} on {self.bars.symbol} {self.bars.timeframe}"},
            "height": 860,
            "showlegend": True,
            "legend": {"orientation": "h"},
            "xaxis": {"type": "date", "anchor": "y2"},
            "yaxis3": {"title": {"text": "price"}, "domain": [0.56, 1.0], "anchor": "x"},
            "yaxis": {"title": {"text": "equity"}, "domain": [0.22, 0.52], "anchor": "x"},
            "yaxis2": {"title": {"text": "drawdown %"}, "domain": [0.0, 0.18], "anchor": "x"},
        }
        return go.Figure(data=data, layout=layout)

    def optimize(
        self,
        *,
        objective: str = "sharpe",
        direction: Direction = "maximize",
        min_trades: int = 0,
        max_drawdown: float | None = None,
        workers: int | None = None,
        **grid: Any,
    ) -> Optimization:
        """Sweep the strategy's parameters over `grid` (a range, list or array per parameter;
        a single value holds it fixed) with `run_sweep` (its numba fast path where the strategy
        and options allow), ranked by `objective` in `direction`; runs with fewer than
        `min_trades` trades or a deeper `max_drawdown` (a fraction) are excluded.
        Combinations that break a rule between parameters (fast < slow) are skipped."""
        space: dict[str, list[Any]] = {}
        fixed: dict[str, Any] = {}
        for name, values in grid.items():
            if isinstance(values, range | list | tuple | np.ndarray | pd.Index | pd.Series):
                space[name] = [v.item() if isinstance(v, np.generic) else v for v in values]
            else:
                fixed[name] = values
        if not space:
            raise InvalidRequest("give at least one parameter a range or list", field="grid")
        spec = self._spec({**self.params, **fixed})
        # The fixed parameters join every combination, so rules between parameters (fast <
        # slow) are checked on the parameters each run really gets.
        combinations, skipped = grid_combinations(
            self.strategy, space, fixed={**self.params, **fixed}
        )
        if not combinations:
            raise InvalidRequest("no combination of the grid is valid", field="grid")
        if workers is None and self._registered_here and not _forks():
            workers = 1  # a spawned worker process would not know the notebook's class
        sweep = run_sweep(
            spec,
            {self.bars.symbol: self.bars},
            combinations,
            objective=objective,
            direction=direction,
            min_trades=min_trades,
            max_drawdown=max_drawdown,
            workers=workers,
            skipped=skipped,
        )
        return Optimization.from_sweep(sweep, {**self.params, **fixed})

    def _spec(self, params: Mapping[str, Any]) -> BacktestSpec:
        params = dict(params)
        declared = registry.get(self.strategy).Params.model_fields
        if self._options.get("allow_short") and "allow_short" in declared.keys() - params.keys():
            params["allow_short"] = True
        registry.build(self.strategy, params)  # refuse bad parameters before any work
        opened = self.bars.opened_at
        request = {
            "symbol": self.bars.symbol,
            "strategy": {"name": self.strategy, "params": params},
            "timeframe": self.bars.timeframe,
            "start": from_epoch_ns(int(opened[0])),
            "end": from_epoch_ns(int(opened[-1])) + _bar_length(self.bars.timeframe),
            **self._options,
        }
        try:
            return BacktestSpec.model_validate(request)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "spec"
            reason = error["msg"].removeprefix("Value error, ")
            if error["loc"] and error["type"] != "value_error":
                reason += f" (got {error['input']!r})"
            raise InvalidRequest(f"{where}: {reason}", field=where) from None

    def _result(self) -> BacktestResult:
        if self.result is None:
            raise InvalidRequest("call run() first", field="run")
        return self.result


@dataclass(frozen=True)
class Optimization:
    """What `Backtest.optimize` found: `ranking` (a DataFrame, best first: rank, one column per
    parameter, the ranking metrics, `final_equity` as Decimal), `best_params` (the full
    parameter set of the best run, None when no run qualified), `excluded` (runs a constraint
    removed, with `excluded_because`), and `sweep`, the underlying `SweepResult` (its `path`
    says whether the numba fast path ran; `heatmap()` for two varying parameters)."""

    ranking: pd.DataFrame
    best_params: dict[str, Any] | None
    excluded: pd.DataFrame
    sweep: SweepResult

    @classmethod
    def from_sweep(cls, sweep: SweepResult, base: Mapping[str, Any]) -> Optimization:
        best = sweep.best
        return cls(
            ranking=_rows_frame(sweep.rows),
            best_params={**base, **best["params"]} if best else None,
            excluded=_rows_frame(sweep.excluded),
            sweep=sweep,
        )


def _forks() -> bool:
    """Whether worker processes start by fork (and so inherit this process's registry)."""
    method = multiprocessing.get_start_method(allow_none=True)
    return (method or multiprocessing.get_all_start_methods()[0]) == "fork"


def _rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    flat = [
        {
            **{k: v for k, v in row.items() if k == "rank"},
            **row["params"],
            **{k: v for k, v in row.items() if k not in ("rank", "params")},
            "final_equity": Decimal(row["final_equity"]),
        }
        for row in rows
    ]
    return pd.DataFrame(flat)


def _strategy(
    strategy: str | type[Strategy] | Strategy, params: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any], bool]:
    """(registered name, parameters, whether the class was registered here) of what the caller
    gave; a class the registry does not hold yet is registered."""
    given = dict(params or {})
    if isinstance(strategy, Strategy):
        given = {**strategy.params.model_dump(exclude_unset=True), **given}
        strategy = type(strategy)
    if isinstance(strategy, str):
        registry.get(strategy)  # unknown names: InvalidRequest listing the known ones
        return strategy, given, False
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise InvalidRequest(
            "strategy must be a registered name, a Strategy subclass or instance, "
            f"got {strategy!r}",
            field="strategy",
        )
    name = getattr(strategy, "name", None)
    if isinstance(name, str) and name in registry.names():
        known = registry.get(name)
        if known is strategy:
            return name, given, False
        same = (known.__module__, known.__qualname__) == (
            strategy.__module__,
            strategy.__qualname__,
        )
        if same:
            registry.unregister(name)  # the notebook cell defining it ran again
        else:
            raise InvalidRequest(
                f"{strategy.__qualname__}.name {name!r} is taken by "
                f"{known.__module__}.{known.__qualname__}; choose another name",
                field="strategy",
            )
    try:
        registry.register(strategy)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="strategy") from None
    return strategy.name, given, True


def _spec_options(cash: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword options as `BacktestSpec` fields (shorthands expanded)."""
    out = dict(options)
    if "initial_cash" not in out:
        out["initial_cash"] = cash
    fees = out.get("fees")
    if fees is not None and not isinstance(fees, Mapping):
        out["fees"] = {"rate": fees}
    if "lot" in out:
        out["sizing"] = {**dict(out.get("sizing") or {}), "lot_size": out.pop("lot")}
    stops = dict(out.get("stops") or {})
    for name in _STOPS:
        if name in out:
            level = out.pop(name)
            stops[name] = (
                level if isinstance(level, Mapping) else {"kind": "percent", "value": level}
            )
    if stops:
        out["stops"] = stops
    for name in ("legs", "symbol", "strategy", "timeframe"):
        if name in out:
            raise InvalidRequest(
                f"{name} comes from the data and the strategy argument, not an option",
                field=name,
            )
    return out


def _bar_length(timeframe: str) -> timedelta:
    try:
        return timedelta(seconds=Timeframe.parse(timeframe).seconds)
    except (KeyError, ValueError):  # a calendar timeframe without a fixed length
        return timedelta(microseconds=1)

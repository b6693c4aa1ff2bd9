"""`run_backtest`: a spec and bars in, a `BacktestResult` out. Pure (no I/O) and deterministic.

The pipeline: select each leg's bars in [start, end) → the leg's strategy gives target sides →
legs are aligned on one time grid → the numba kernel simulates → the Decimal ledger re-prices
every fill → metrics → canonical hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from velocitas.calendars import MarketCalendar, resolve_calendar
from velocitas.domain.bars import BarArrays, from_epoch_ns, to_epoch_ns
from velocitas.domain.timeframe import Timeframe
from velocitas.domain.wire import decimal_text, instant_text
from velocitas.engine import codes
from velocitas.engine.alignment import AlignedBars, align
from velocitas.engine.bar_checks import positive_and_finite, strictly_increasing
from velocitas.engine.kernel import run_kernel
from velocitas.engine.ledger import PRICE_DECIMALS, LegLabel, build_ledger
from velocitas.engine.records import FillRecords, TradeRecords
from velocitas.engine.result import BacktestResult, EquityCurve
from velocitas.engine.spec import BacktestSpec, LegSpec, StopLevelSpec
from velocitas.engine.ticks import symbol_key, ticks_per_bar
from velocitas.engine.version import ENGINE_VERSION
from velocitas.errors import InvalidRequest
from velocitas.indicators import atr
from velocitas.metrics import compute_metrics
from velocitas.strategies import registry

__all__ = [
    "EQUITY_LOT",
    "kernel_config",
    "leg_keys",
    "market_spec",
    "records_result",
    "run_backtest",
    "run_signals",
    "select_bars",
    "simulate_legs",
    "strategy_signals",
]

EQUITY_LOT = Decimal(1)
"""The lot on an exchange calendar when the spec leaves `sizing.lot_size` unset: whole shares."""

_PLACEHOLDER = np.zeros((1, 1))
_NO_DAYS = np.zeros(1, dtype=np.int64)
_STOP_KINDS = {None: codes.STOP_NONE, "percent": codes.STOP_PERCENT, "atr": codes.STOP_ATR}
_PATHS = {
    "pessimistic": codes.PATH_PESSIMISTIC,
    "ohlc": codes.PATH_OHLC,
    "adaptive": codes.PATH_ADAPTIVE,
    "bridge": codes.PATH_BRIDGE,
}
_SIZING = {
    "fixed_quantity": codes.SIZING_FIXED_QUANTITY,
    "fixed_cash": codes.SIZING_FIXED_CASH,
    "fraction_of_equity": codes.SIZING_FRACTION_OF_EQUITY,
}


def run_backtest(spec: BacktestSpec, bars: Mapping[str, BarArrays]) -> BacktestResult:
    """Run `spec` on `bars` (keyed by symbol, for spec.timeframe).

    Each leg's strategy comes from `velocitas.strategies.registry`. Raises `InvalidRequest` when a
    leg has no bars in [start, end) or the registry refuses its strategy or parameters (the
    error's field is then `legs[i].strategy.name` or `legs[i].strategy.params.<param>`).
    """
    leg_bars = select_bars(spec, bars)
    signals = [
        strategy_signals(leg, leg_bars[index], field=f"legs[{index}].strategy")
        for index, leg in enumerate(spec.legs)
    ]
    return run_signals(spec, leg_bars, signals)


def strategy_signals(
    leg: LegSpec, bars: BarArrays, *, field: str = "strategy"
) -> npt.NDArray[np.int8]:
    """The leg's strategy's target sides on `bars`, built through the strategy registry."""
    strategy = registry.build(leg.strategy.name, dict(leg.strategy.params), field=field)
    return np.asarray(strategy.signals(bars), dtype=np.int8)


def select_bars(spec: BacktestSpec, bars: Mapping[str, BarArrays]) -> list[BarArrays]:
    """Each leg's bars restricted to [spec.start, spec.end), validated."""
    start_ns, end_ns = to_epoch_ns(spec.start), to_epoch_ns(spec.end)
    selected: dict[str, BarArrays] = {}
    for symbol in spec.symbols:
        first_leg = next(i for i, leg in enumerate(spec.legs) if leg.symbol == symbol)
        field = f"legs[{first_leg}].symbol"
        series = bars.get(symbol)
        if series is None:
            raise InvalidRequest(f"no bars were given for symbol {symbol!r}", field=field)
        times = series.opened_at
        if not strictly_increasing(times):
            raise InvalidRequest(f"bars of {symbol!r} are not strictly increasing", field=field)
        lo, hi = np.searchsorted(times, [start_ns, end_ns])
        part = series.slice(int(lo), int(hi))
        if len(part) == 0:
            raise InvalidRequest(
                f"no {spec.timeframe} bars for {symbol!r} in [{spec.start}, {spec.end})",
                field=field,
            )
        if not positive_and_finite(part.open, part.high, part.low, part.close):
            raise InvalidRequest(f"bars of {symbol!r} hold non-positive or NaN prices", field=field)
        selected[symbol] = part
    return [selected[leg.symbol] for leg in spec.legs]


def market_spec(
    spec: BacktestSpec, leg_bars: Sequence[BarArrays]
) -> tuple[BacktestSpec, MarketCalendar]:
    """The run's market calendar (`spec.calendar`, else inferred from the bars used: one leg's
    times, or all legs' together) and the spec with the market's lot when it leaves
    `sizing.lot_size` unset (whole shares on an exchange, as given for crypto and FX)."""
    if len(leg_bars) == 1:
        times = leg_bars[0].opened_at
    else:
        times = np.unique(np.concatenate([b.opened_at for b in leg_bars]))
    calendar = resolve_calendar(spec.calendar, times, spec.timeframe)
    if calendar.kind == "equity" and "lot_size" not in spec.sizing.model_fields_set:
        sizing = spec.sizing.model_copy(update={"lot_size": EQUITY_LOT})
        spec = spec.model_copy(update={"sizing": sizing})
    return spec, calendar


def kernel_config(spec: BacktestSpec) -> npt.NDArray[np.float64]:
    """The spec as the kernel's configuration vector (`codes.CFG_*`; NaN turns a rule off)."""
    cfg = np.full(codes.CFG_SIZE, np.nan)
    cfg[codes.CFG_INITIAL_CASH] = float(spec.initial_cash)
    cfg[codes.CFG_FEE_RATE] = float(spec.fees.rate)
    cfg[codes.CFG_FEE_FIXED] = float(spec.fees.fixed)
    cfg[codes.CFG_SLIPPAGE] = float(spec.slippage_bps) / 10_000.0
    cfg[codes.CFG_FILL_MODE] = (
        codes.FILL_NEXT_OPEN if spec.fill == "next_open" else codes.FILL_SAME_CLOSE
    )
    cfg[codes.CFG_SIZING_MODE] = _SIZING[spec.sizing.mode]
    cfg[codes.CFG_SIZING_VALUE] = float(spec.sizing.value)
    cfg[codes.CFG_LOT_SIZE] = float(spec.sizing.lot_size)
    cfg[codes.CFG_ALLOW_SHORT] = 1.0 if spec.allow_short else 0.0
    stops = spec.stops
    for kind_at, value_at, level in (
        (codes.CFG_SL_KIND, codes.CFG_SL_VALUE, stops.stop_loss),
        (codes.CFG_TP_KIND, codes.CFG_TP_VALUE, stops.take_profit),
        (codes.CFG_TS_KIND, codes.CFG_TS_VALUE, stops.trailing_stop),
    ):
        cfg[kind_at] = _STOP_KINDS[level.kind if level else None]
        cfg[value_at] = float(level.value) if level else 0.0
    cfg[codes.CFG_PATH] = _PATHS[stops.intrabar_path]
    risk = spec.risk
    for at, limit in (
        (codes.CFG_MAX_POSITION, risk.max_position),
        (codes.CFG_MAX_DAILY_LOSS, risk.max_daily_loss),
        (codes.CFG_MAX_DRAWDOWN, risk.max_drawdown),
    ):
        cfg[at] = np.nan if limit is None else float(limit)
    cfg[codes.CFG_COOLDOWN_LOSSES] = risk.cooldown_losses or 0
    cfg[codes.CFG_COOLDOWN_BARS] = risk.cooldown_bars or 0
    cfg[codes.CFG_PRICE_DECIMALS] = PRICE_DECIMALS
    cfg[codes.CFG_TICKS_PER_BAR] = ticks_per_bar(spec.timeframe, stops.ticks_per_bar)
    cfg[codes.CFG_TICK_SEED] = stops.tick_seed
    return cfg


def leg_keys(spec: BacktestSpec) -> npt.NDArray[np.int64]:
    """Each leg's symbol key (`velocitas.engine.ticks.symbol_key`): the bridge path's ticks."""
    return np.asarray([symbol_key(leg.symbol) for leg in spec.legs], dtype=np.int64)


def _atr_grid(
    level: StopLevelSpec | None, legs: Sequence[BarArrays], grid: AlignedBars
) -> npt.NDArray[np.float64]:
    if level is None or level.kind != "atr":
        return _PLACEHOLDER
    per_leg = [atr(b.high, b.low, b.close, level.atr_period) for b in legs]
    return grid.place(per_leg, np.float64, carry=True)


def simulate_legs(
    spec: BacktestSpec, leg_bars: Sequence[BarArrays], signals: Sequence[np.ndarray]
) -> tuple[AlignedBars, np.ndarray, np.ndarray, npt.NDArray[np.float64]]:
    """The float simulation alone: (time grid, fill records, rejection records, equity).

    Records are the kernel's raw rows (`codes.F_*`, `codes.R_*`); `run_signals` turns them into
    the Decimal ledger. Exposed for benchmarks and for callers that only need the curve.
    """
    if len(leg_bars) != len(spec.legs) or len(signals) != len(spec.legs):
        raise InvalidRequest("one bar series and one signal series per leg", field="legs")
    for index, (bars, sides) in enumerate(zip(leg_bars, signals, strict=True)):
        if len(sides) != len(bars):
            raise InvalidRequest(
                f"leg {index}: {len(sides)} signals for {len(bars)} bars", field="legs"
            )
        if len(sides) and (np.max(sides) > 1 or np.min(sides) < -1):
            raise InvalidRequest(f"leg {index}: target sides must be -1, 0 or +1", field="legs")
    grid = align(leg_bars)
    side_grid = grid.place([np.asarray(s, dtype=np.int8) for s in signals], np.int8, carry=False)
    fill_records, rejection_records, equity = run_kernel(
        grid.open,
        grid.high,
        grid.low,
        grid.close,
        grid.has_bar,
        side_grid,
        grid.utc_day if spec.risk.max_daily_loss is not None else _NO_DAYS,
        _atr_grid(spec.stops.stop_loss, leg_bars, grid),
        _atr_grid(spec.stops.take_profit, leg_bars, grid),
        _atr_grid(spec.stops.trailing_stop, leg_bars, grid),
        np.asarray([float(leg.weight) for leg in spec.legs]),
        kernel_config(spec),
        grid.opened_at,
        leg_keys(spec),
    )
    return grid, fill_records, rejection_records, equity


def run_signals(
    spec: BacktestSpec, leg_bars: Sequence[BarArrays], signals: Sequence[np.ndarray]
) -> BacktestResult:
    """Simulate given target sides: `signals[i]` (+1/0/−1 per bar) for `leg_bars[i]`.

    `leg_bars` are the legs' bars already restricted to the run (see `select_bars`).
    """
    spec, calendar = market_spec(spec, leg_bars)
    grid, fill_records, rejection_records, equity = simulate_legs(spec, leg_bars, signals)
    return records_result(spec, calendar, leg_bars, grid, fill_records, rejection_records, equity)


def records_result(
    spec: BacktestSpec,
    calendar: MarketCalendar,
    leg_bars: Sequence[BarArrays],
    grid: AlignedBars,
    fill_records: np.ndarray,
    rejection_records: np.ndarray,
    equity: npt.NDArray[np.float64],
) -> BacktestResult:
    """The result of a simulated run (`simulate_legs`' outputs, the spec `market_spec` gave):
    the exact ledger, the metrics, the run's facts and warnings, and the result hash."""
    ledger = build_ledger(
        fill_records,
        rejection_records,
        grid.opened_at,
        [LegLabel(leg.symbol, leg.strategy.name) for leg in spec.legs],
        initial_cash=spec.initial_cash,
        lot_size=spec.sizing.lot_size,
        fee_rate=spec.fees.rate,
        fee_fixed=spec.fees.fixed,
    )
    result = BacktestResult(
        initial_cash=spec.initial_cash,
        final_equity=ledger.final_equity,
        trades=ledger.trades,
        fills=ledger.fills,
        rejections=ledger.rejections,
        equity=EquityCurve(grid.opened_at, equity),
        breakdown=ledger.breakdown,
        engine_version=ENGINE_VERSION,
    )
    benchmark = grid.close[:, 0] if len(spec.legs) == 1 else None
    metrics: dict[str, float | int | str | None] = dict(
        performance_metrics(spec, result, benchmark_close=benchmark, calendar=calendar)
    )
    metrics.update(run_facts(spec, calendar, grid.opened_at))
    warnings = warmup_warnings(spec, leg_bars)
    result = replace(result, metrics=metrics, warnings=warnings)
    return replace(result, result_hash=result.canonical_hash())


def _exposure_bars(entry_bars: npt.ArrayLike, exit_bars: npt.ArrayLike) -> int:
    """Bars that ended with at least one position open (a trade holds bars entry..exit−1):
    the union of the trades' intervals, from their sorted ends (no array as long as the run)."""
    entries = np.asarray(entry_bars, dtype=np.int64)
    if len(entries) == 0:
        return 0
    ends = np.concatenate([entries, np.asarray(exit_bars, dtype=np.int64)])
    steps = np.concatenate([np.ones(len(entries), np.int64), -np.ones(len(entries), np.int64)])
    order = np.argsort(ends, kind="stable")
    ends = ends[order]
    open_after = np.cumsum(steps[order])  # positions open after each end; ties: the last counts
    return int(np.diff(ends)[open_after[:-1] > 0].sum())


def _trade_figures(
    result: BacktestResult,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], Decimal, int]:
    """(net P&L as floats, return fractions, fees paid, exposure bars) of the run's trades,
    from the exact ledger's columns when it has them (no Trade or Fill is then built)."""
    trades, fills = result.trades, result.fills
    if isinstance(trades, TradeRecords) and isinstance(fills, FillRecords):
        exposure = _exposure_bars(trades.entry_bars(), trades.exit_bars())
        return trades.net_pnl_floats(), trades.return_fractions(), fills.fees_paid(), exposure
    return (
        np.asarray([float(t.net_pnl) for t in trades], dtype=np.float64),
        np.asarray([t.return_fraction for t in trades], dtype=np.float64),
        sum((f.fee for f in fills), start=Decimal(0)),
        _exposure_bars([t.entry_bar for t in trades], [t.exit_bar for t in trades]),
    )


def run_facts(
    spec: BacktestSpec, calendar: MarketCalendar, opened_at: npt.NDArray[np.int64]
) -> dict[str, str]:
    """What the run actually used, for the report: the calendar, the lot, and the first bar's
    opening and the last bar's close (ISO-8601 UTC), which may lie inside the requested range."""
    last_close = Timeframe.parse(spec.timeframe).add_ns(opened_at[-1:], 1)[0]
    return {
        "calendar": calendar.name,
        "lot_size": decimal_text(spec.sizing.lot_size),
        "first_bar_opened_at": instant_text(from_epoch_ns(int(opened_at[0]))),
        "last_bar_closed_at": instant_text(from_epoch_ns(int(last_close))),
    }


def warmup_warnings(spec: BacktestSpec, leg_bars: Sequence[BarArrays]) -> tuple[str, ...]:
    """A warning per leg whose bars are no more than its strategy's longest look-back (its
    largest parameter counted in bars, such as `slow`): the strategy cannot trade on them."""
    out = []
    for index, (leg, bars) in enumerate(zip(spec.legs, leg_bars, strict=True)):
        try:
            model = registry.get(leg.strategy.name).Params
            params = model(**leg.strategy.params).model_dump()
        except (InvalidRequest, ValueError, TypeError):
            continue  # already refused elsewhere, or parameters that are not plain values
        lookbacks = {
            k: v
            for k, v in params.items()
            if type(v) is int and "bars" in (model.model_fields[k].description or "")
        }
        if not lookbacks:
            continue
        name, longest = max(lookbacks.items(), key=lambda item: item[1])
        if len(bars) <= longest:
            out.append(
                f"legs[{index}]: {len(bars)} {spec.timeframe} bars of {leg.symbol!r} used, no "
                f"more than {leg.strategy.name}'s {name}={longest}: the strategy cannot warm "
                "up and trade; give a longer range"
            )
    return tuple(out)


def performance_metrics(
    spec: BacktestSpec,
    result: BacktestResult,
    benchmark_close: np.ndarray | None,
    calendar: MarketCalendar | None = None,
) -> dict[str, float | int | None]:
    """`velocitas.metrics.compute_metrics` for the run (buy and hold of a one-leg run's symbol)
    on `calendar` (default: `spec.calendar`, else inferred from the run's bars)."""
    if calendar is None:
        calendar = resolve_calendar(spec.calendar, result.equity.opened_at, spec.timeframe)
    net_pnls, returns, fees_paid, exposure_bars = _trade_figures(result)
    return compute_metrics(
        result.equity.equity,
        result.equity.opened_at,
        net_pnls,
        returns,
        timeframe=spec.timeframe,
        calendar=calendar,
        fees_paid=fees_paid,
        exposure_bars=exposure_bars,
        benchmark_close=benchmark_close,
        initial_equity=spec.initial_cash,
        risk_free_rate=float(spec.risk_free_rate),
    )

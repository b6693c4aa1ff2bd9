"""pandas in and out: a DataFrame of OHLCV rows to the engine's `BarArrays`; trades, equity and
statistics of a `BacktestResult` back to pandas.

Columns are found by name, ignoring case, spaces and underscores (`Open`, `open`, `OPEN`,
`open_price`; `Close`, `close`, `last`; `Volume`, `vol`), or mapped explicitly with
`columns={"close": "Adj Close"}`. Times come from a DatetimeIndex or a time column (`time`,
`date`, `datetime`, `timestamp`, `opened_at`, or `time_column=`); naive times are UTC.
Money stays exact: Decimal values in object columns (see docs/notebook.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe
from velocitas.domain.trades import Trade
from velocitas.engine.result import BacktestResult
from velocitas.errors import InvalidRequest

__all__ = [
    "bars_from_frame",
    "equity_frame",
    "infer_timeframe",
    "stats_series",
    "trades_frame",
]

_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    "volume": ("volume", "vol", "v"),
}
_TIME_NAMES = ("openedat", "time", "timestamp", "datetime", "date", "opentime")
# Report metrics that are money: replaced by exact Decimals computed from the ledger.
_MONEY_METRICS = ("expectancy", "avg_trade", "best_trade", "worst_trade", "fees_paid")


def _key(name: object) -> str:
    return str(name).lower().replace(" ", "").replace("_", "")


def bars_from_frame(
    frame: pd.DataFrame,
    *,
    symbol: str,
    timeframe: str | None = None,
    columns: Mapping[str, str] | None = None,
    time_column: str | None = None,
) -> BarArrays:
    """`frame`'s rows as `BarArrays`, oldest first, timeframe inferred unless given.

    Raises `InvalidRequest` naming the column (and the row's time) of a missing, non-numeric,
    NaN or non-positive price, a negative or NaN volume, or a duplicate time.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidRequest(f"data must be a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise InvalidRequest("the DataFrame has no rows", field="data")
    times = _times(frame, time_column)
    order = np.argsort(times, kind="stable")  # sorted, in case the rows are not
    times = times[order]
    repeated = np.flatnonzero(times[1:] == times[:-1])
    if len(repeated):
        at = pd.Timestamp(times[repeated[0]], tz="UTC")
        raise InvalidRequest(f"two rows share the time {at}", field="data.index")
    found = _value_columns(frame, columns or {})
    values: dict[str, np.ndarray] = {}
    for name in ("open", "high", "low", "close", "volume"):
        source = found.get(name)
        if source is None:  # only volume may be missing (checked in _value_columns)
            values[name] = np.zeros(len(frame))
            continue
        column = pd.to_numeric(frame[source], errors="coerce").to_numpy(np.float64)[order]
        bad = ~(column >= 0) if name == "volume" else ~((column > 0) & (column < np.inf))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            at = pd.Timestamp(times[row], tz="UTC")
            what = "a negative or missing" if name == "volume" else "a missing or non-positive"
            raise InvalidRequest(
                f"column {source!r} holds {what} value at {at}: {frame[source].iloc[order[row]]!r}",
                field=f"data.{source}",
            )
        values[name] = column
    tf = Timeframe.parse(timeframe).value if timeframe else infer_timeframe(times)
    return BarArrays(symbol, tf, times.astype(np.int64), **values)


def _times(frame: pd.DataFrame, time_column: str | None) -> np.ndarray:
    if time_column is not None:
        if time_column not in frame.columns:
            raise InvalidRequest(f"no column {time_column!r}", field="time_column")
        raw: Any = frame[time_column]
        where = time_column
    elif isinstance(frame.index, pd.DatetimeIndex):
        raw, where = frame.index, "the index"
    else:
        named = [c for c in frame.columns if _key(c) in _TIME_NAMES]
        if not named:
            raise InvalidRequest(
                "no times: give the DataFrame a DatetimeIndex, a time column "
                "(time, date, datetime, timestamp) or time_column=",
                field="data.index",
            )
        raw, where = frame[named[0]], named[0]
    if pd.api.types.is_numeric_dtype(raw):
        raise InvalidRequest(
            f"{where} holds numbers, not times: convert it, e.g. pd.to_datetime(x, unit='s')",
            field="time_column",
        )
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(raw))
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"{where} does not hold times: {exc}", field="time_column") from None
    if stamps.hasnans:
        raise InvalidRequest(f"{where} has a missing time", field="time_column")
    # Naive times mean UTC, as everywhere in velocitas.
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    return np.asarray(stamps.as_unit("ns").asi8, dtype=np.int64)


def _value_columns(frame: pd.DataFrame, columns: Mapping[str, str]) -> dict[str, str]:
    unknown = set(columns) - set(_ALIASES)
    if unknown:
        raise InvalidRequest(
            f"columns= maps {sorted(unknown)}; map open, high, low, close or volume",
            field="columns",
        )
    found: dict[str, str] = {}
    for name, aliases in _ALIASES.items():
        if name in columns:
            if columns[name] not in frame.columns:
                raise InvalidRequest(
                    f"columns maps {name} to {columns[name]!r}, which the DataFrame lacks "
                    f"(it has {', '.join(map(str, frame.columns))})",
                    field=f"columns.{name}",
                )
            found[name] = columns[name]
            continue
        matches = [c for c in frame.columns if _key(c) in aliases]
        if len(matches) > 1:
            raise InvalidRequest(
                f"several columns could be {name}: {matches}; "
                f"choose with columns={{{name!r}: ...}}",
                field=f"columns.{name}",
            )
        if matches:
            found[name] = str(matches[0])
        elif name != "volume":
            raise InvalidRequest(
                f"no {name} column (have {', '.join(map(str, frame.columns))}); "
                f"name one with columns={{{name!r}: ...}}",
                field=f"columns.{name}",
            )
    return found


def infer_timeframe(opened_at: np.ndarray) -> str:
    """The timeframe whose length is the median spacing of the bars (weekends and holidays do
    not move a median of daily stock bars off one day)."""
    if len(opened_at) < 2:
        raise InvalidRequest("one bar has no spacing: give timeframe=", field="timeframe")
    seconds = int(np.median(np.diff(opened_at))) // 1_000_000_000
    for candidate in Timeframe:
        try:
            if candidate.seconds == seconds:
                return candidate.value
        except (KeyError, ValueError):  # a calendar timeframe without a fixed length
            continue
    choices = ", ".join(t.value for t in Timeframe)
    raise InvalidRequest(
        f"the bars are {seconds} s apart (median), which is no timeframe; "
        f"give timeframe= (one of {choices})",
        field="timeframe",
    )


def trades_frame(trades: Sequence[Trade]) -> pd.DataFrame:
    """One row per closed trade: every `Trade` field (money as Decimal in object columns, times
    as UTC timestamps, `side` as text) plus `return_fraction` (float)."""
    names = [f.name for f in fields(Trade)]
    rows = [
        {
            **{n: getattr(t, n) for n in names},
            "side": t.side.value,
            "return_fraction": t.return_fraction,
        }
        for t in trades
    ]
    frame = pd.DataFrame(rows, columns=[*names, "return_fraction"])
    for column in ("entry_at", "exit_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"return_fraction": np.float64})


def equity_frame(result: BacktestResult) -> pd.DataFrame:
    """Equity marked at each bar's close (float64, the engine's curve) and the drawdown below
    the running peak as a fraction, indexed by the bar's opening time (UTC)."""
    equity = result.equity.equity
    start = float(result.initial_cash)
    peak = np.maximum.accumulate(np.concatenate([[start], equity]))[1:]
    index = pd.DatetimeIndex(pd.to_datetime(result.equity.opened_at, unit="ns", utc=True))
    return pd.DataFrame(
        {"equity": equity, "drawdown": 1.0 - equity / peak},
        index=index.rename("opened_at"),
    )


def stats_series(result: BacktestResult, name: str) -> pd.Series:
    """The report's metrics as a Series (object dtype), after `start`, `end` (the first and last
    bar used), `initial_cash` and `final_equity`; money is exact Decimal."""
    trades = result.trades
    pnl = [t.net_pnl for t in trades]
    total = sum(pnl, start=Decimal(0))
    exact: dict[str, Decimal | None] = {
        "fees_paid": sum((f.fee for f in result.fills), start=Decimal(0)),
        "best_trade": max(pnl) if pnl else None,
        "worst_trade": min(pnl) if pnl else None,
        "avg_trade": total / len(pnl) if pnl else None,
        "expectancy": total / len(pnl) if pnl else None,
    }
    times = result.equity.opened_at
    data: dict[str, Any] = {
        "start": pd.Timestamp(int(times[0]), unit="ns", tz="UTC") if len(times) else None,
        "end": pd.Timestamp(int(times[-1]), unit="ns", tz="UTC") if len(times) else None,
        "initial_cash": result.initial_cash,
        "final_equity": result.final_equity,
    }
    for key, value in result.metrics.items():
        data[key] = exact[key] if key in _MONEY_METRICS else value
    return pd.Series(data, dtype=object, name=name)

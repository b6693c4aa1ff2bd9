"""The journal rows of quiet bars, encoded straight to JSON text (speed `max`'s hot path).

Most bars of a session at `speed="max"` only close and repeat each leg's signal: two or more
events per bar, millions per run. Building a pydantic model per event costs tens of
microseconds; this writes the very JSON `BarClosed.model_dump_json()` and
`SignalEvent.model_dump_json()` give (same keys, decimal strings on the 8-decimal price grid,
instants as `...Z`), with plain string formatting. `tests/velocitas/sessions/test_encoding.py`
holds the two to equal payloads. Bars whose values the shortcut cannot write exactly
(sub-second instants) go the model way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import orjson

__all__ = ["encodable", "quiet_bar_rows"]


def encodable(*columns: npt.NDArray[np.float64], instants: npt.NDArray[np.int64]) -> bool:
    """True when every value can be written by `quiet_bar_rows` exactly as the models write it."""
    return not np.any(instants % 1_000_000_000) and all(
        bool(np.all(np.isfinite(c))) for c in columns
    )


def _instants(ns: npt.NDArray[np.int64]) -> list[str]:
    text = np.datetime_as_string(np.asarray(ns, np.int64).view("datetime64[ns]"), unit="s")
    return [f'"{t}Z"' for t in text.tolist()]


def _decimals(values: npt.NDArray[np.float64]) -> list[str]:
    out = []
    for x in values.tolist():
        out.append(f'"{x:.8f}"')  # price_decimal's text; the contracts print it as it is
    return out


def quiet_bar_rows(
    symbols: Sequence[tuple[str, int]],
    legs: Sequence[tuple[int, str, str, int]],
    timeframe: str,
    opened_ns: npt.NDArray[np.int64],
    closed_ns: npt.NDArray[np.int64],
    ohlcv: npt.NDArray[np.float64],
    has_bar: npt.NDArray[np.bool_],
    signals: npt.NDArray[np.int8],
) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Per bar, its (type, JSON) rows: `bar.closed` per symbol, then `signal` per leg; and
    each bar's close instant as ISO-8601 text (the rows' `at`).

    `symbols`: (symbol, grid column); `legs`: (leg, symbol, strategy, grid column); arrays are
    the range's rows of the grid (`ohlcv` is [5, bar, leg])."""
    opened, closed = _instants(opened_ns), _instants(closed_ns)
    frame = orjson.dumps(timeframe).decode()
    columns = {column for _, column in symbols}
    text = {
        column: [_decimals(ohlcv[k, :, column]) for k in range(5)] for column in sorted(columns)
    }
    heads = {
        s: '{"type":"bar.closed","v":1,"symbol":' + orjson.dumps(s).decode() for s, _ in symbols
    }
    signal_heads = {
        leg: f'{{"type":"signal","v":1,"leg":{leg},"symbol":{orjson.dumps(symbol).decode()},'
        f'"strategy":{orjson.dumps(strategy).decode()},"side":'
        for leg, symbol, strategy, _ in legs
    }
    rows: list[list[tuple[str, str]]] = []
    for t in range(len(opened_ns)):
        bar: list[tuple[str, str]] = []
        for symbol, column in symbols:
            if not has_bar[t, column]:
                continue
            o, h, low, c, v = (text[column][k][t] for k in range(5))
            bar.append((
                "bar.closed",
                f'{heads[symbol]},"timeframe":{frame},"opened_at":{opened[t]},"open":{o},'
                f'"high":{h},"low":{low},"close":{c},"volume":{v},"at":{closed[t]}}}',
            ))  # fmt: skip
        for leg, _, _, column in legs:
            if has_bar[t, column]:
                side = int(signals[t, leg])
                bar.append((
                    "signal", f'{signal_heads[leg]}{side},"confidence":"1","at":{closed[t]}}}'
                ))  # fmt: skip
        rows.append(bar)
    return rows, [t[1:-1] for t in closed]

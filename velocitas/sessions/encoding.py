"""Quiet bars' journal rows encoded straight to JSON text (speed `max`'s hot path).

A session at `speed="max"` journals a run of consecutive quiet bars of a symbol as one
`bars.closed` event, and a `signal` only when a leg's target side changes. Building pydantic
models with a Decimal per price costs microseconds a value; this writes the very JSON
`BarsClosed.model_dump_json()` and `SignalEvent.model_dump_json()` give (same keys, decimal
strings on the 8-decimal price grid, instants as `...Z`) with plain string formatting.
`tests/velocitas/sessions/test_encoding.py` holds the two to equal payloads. Ranges whose values
the shortcut cannot write exactly (sub-second instants, non-finite values) go the model way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import orjson

__all__ = ["RangeText", "bars_closed_json", "encodable", "signal_json"]


def encodable(*columns: npt.NDArray[np.float64], instants: npt.NDArray[np.int64]) -> bool:
    """True when every value can be written here exactly as the models write it (instants
    in whole seconds from 1970 on, finite values)."""
    return (not np.any(instants % 1_000_000_000) and bool(np.all(instants >= 0))) and all(
        bool(np.all(np.isfinite(c))) for c in columns
    )


_SCALE = 100_000_000  # the price grid: 8 decimals
_LIMIT = 10.0**10  # values below this (and >= 0) take the vectorised path: q < 2**63


def _instant_cells(ns: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Each instant (whole seconds) as the cells `"2024-01-01T00:00:00Z",` ([bar, 23] ASCII):
    the date text of each distinct day once, the time of day by integer arithmetic."""
    seconds = np.asarray(ns, np.int64) // 1_000_000_000
    days, of_day = np.divmod(seconds, 86_400)
    unique, index = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(unique.astype("datetime64[D]")).astype("S10")
    cells = np.empty((len(seconds), 23), np.uint8)
    cells[:, 0], cells[:, 11], cells[:, 20:] = ord('"'), ord("T"), np.frombuffer(b'Z",', np.uint8)
    cells[:, 1:11] = dates.view(np.uint8).reshape(len(unique), 10)[index]
    for start, value in ((12, of_day // 3600), (15, of_day // 60 % 60), (18, of_day % 60)):
        cells[:, start], cells[:, start + 1] = value // 10 + 48, value % 10 + 48
    cells[:, 14], cells[:, 17] = ord(":"), ord(":")
    return cells


def _decimal_cells(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """Each value as `"123.45678901",` ([bar, width] ASCII), the text `f"{x:.8f}"` gives
    (price_decimal's), right-aligned after blanks: JSON allows blanks between tokens and
    JSONB stores none of them. Integer arithmetic on x x 1e8 rounded; a value whose product
    lies too near a rounding tie to trust, or out of range, is printed by `%` instead."""
    x = np.asarray(values, np.float64)
    scaled = x * _SCALE
    q = np.rint(scaled)
    fast = (x >= 0) & (x < _LIMIT) & (np.abs(scaled - q) < 0.499)
    texts = {int(i): '"%.8f"' % x[i] for i in np.flatnonzero(~fast)}  # noqa: UP031
    q = np.where(fast, q, 0).astype(np.int64)
    whole, frac = q // _SCALE, q % _SCALE
    digits = np.maximum(1, np.floor(np.log10(np.maximum(whole, 1))).astype(np.int64) + 1)
    longest = max((len(t) - 11 for t in texts.values()), default=1)
    width_whole = max(int(digits.max(initial=1)), longest)
    width = width_whole + 12  # quote, digits, point, 8 decimals, quote, comma
    cells = np.full((len(x), width), ord(" "), np.uint8)
    for k in range(8):  # decimals, last first
        cells[:, width - 3 - k] = frac % 10 + 48
        frac //= 10
    cells[:, width - 11] = ord(".")
    for k in range(width_whole + 1):  # whole digits, last first, and the quote before them
        column = width - 12 - k
        cells[:, column] = np.where(
            k < digits, whole % 10 + 48, np.where(k == digits, ord('"'), ord(" "))
        )
        whole //= 10
    cells[:, width - 2], cells[:, width - 1] = ord('"'), ord(",")
    for i, text in texts.items():
        row = (text + ",").rjust(width).encode()
        cells[i] = np.frombuffer(row, np.uint8)
    return cells


class RangeText:
    """A range of grid bars as JSON fragments: instants and each column's OHLCV, as rows of
    fixed-width ASCII cells (a run's JSON array is one slice of them)."""

    def __init__(
        self,
        opened_ns: npt.NDArray[np.int64],
        closed_ns: npt.NDArray[np.int64],
        ohlcv: npt.NDArray[np.float64],
        columns: Sequence[int],
    ) -> None:
        """`ohlcv` is [5, bar, column] over the range's rows of the grid."""
        self.opened = _instant_cells(opened_ns)
        self._closed = _instant_cells(closed_ns)
        self.values = {c: [_decimal_cells(ohlcv[k, :, c]) for k in range(5)] for c in columns}

    def closed(self, row: int) -> str:
        """Bar `row`'s close instant, quoted."""
        return _cells_text(self._closed[row])[:-1]


def _cells_text(cells: npt.NDArray[np.uint8]) -> str:
    return cells.tobytes().decode("ascii")


def _array(cells: npt.NDArray[np.uint8], rows: slice | Sequence[int]) -> str:
    picked = cells[rows] if isinstance(rows, slice) else cells[np.asarray(rows)]
    return "[" + _cells_text(picked)[:-1] + "]"  # the last cell's comma off


def bars_closed_json(
    text: RangeText, symbol: str, timeframe: str, column: int, rows: slice | Sequence[int]
) -> tuple[str, str]:
    """(`at` text, JSON) of the `bars.closed` event of `rows` (positions in the range, in
    order) of `column`: `at` is the last bar's close."""
    last = rows.stop - 1 if isinstance(rows, slice) else rows[-1]
    o, h, low, c, v = (_array(cells, rows) for cells in text.values[column])
    at = text.closed(last)
    return at[1:-1], (
        f'{{"type":"bars.closed","v":1,"symbol":{orjson.dumps(symbol).decode()},'
        f'"timeframe":{orjson.dumps(timeframe).decode()},'
        f'"opened_at":{_array(text.opened, rows)},"open":{o},"high":{h},"low":{low},'
        f'"close":{c},"volume":{v},"at":{at}}}'
    )


def signal_json(leg: int, symbol: str, strategy: str, side: int, at: str) -> str:
    """A rule strategy's `signal` (confidence 1) at `at` (quoted instant text)."""
    return (
        f'{{"type":"signal","v":1,"leg":{leg},"symbol":{orjson.dumps(symbol).decode()},'
        f'"strategy":{orjson.dumps(strategy).decode()},"side":{side},"confidence":"1",'
        f'"at":{at}}}'
    )

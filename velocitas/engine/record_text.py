"""The fills' and rejections' lines of the result hash, written from scaled integers (numba).

`BacktestResult.canonical_hash` feeds sha256 one line per fill,
`"\\nF{leg},{symbol},{bar},{side},{quantity},{price},{fee},{reason}"`, then one per rejection,
`"\\nR{leg},{symbol},{bar},{side},{quantity},{reason}"`, with the Decimals in `str()` form.
`fill_lines` and `rejection_lines` write the same bytes for a whole run into one buffer, so
the exact ledger hashes to what the Decimal ledger hashes to without a string per record.
`_write_decimal` is `Decimal.__str__` (to-scientific-string) for a coefficient and exponent.
"""

from __future__ import annotations

import numpy as np

from velocitas.engine.codes import F_BAR, F_LEG, F_REASON, F_SIDE, R_BAR, R_LEG, R_REASON, R_SIDE
from velocitas.engine.fixed_point import U_FEE_HI, U_FEE_LO, U_PRICE, U_QUANTITY
from velocitas.jit import njit

__all__ = ["LINE_ROOM", "fill_lines", "rejection_lines"]

LINE_ROOM = 256
"""Bytes a fill's line can take besides its symbol: three Decimals (at most 19 + 19 + 37 digits,
each with a sign, a point, six leading zeros or an exponent), two int64 counters, the side and
the reason, with room to spare."""

_DIGITS = 40  # a wide number has at most 37
_WIDE_BASE = 10**18
_TEN = np.uint64(10)


@njit(cache=True, inline="always")
def _write_bytes(buf: np.ndarray, pos: int, text: np.ndarray, start: int, stop: int) -> int:
    for i in range(start, stop):
        buf[pos] = text[i]
        pos += 1
    return pos


@njit(cache=True, inline="always")
def _write_repeat(buf: np.ndarray, pos: int, byte: int, times: int) -> int:
    for _ in range(times):
        buf[pos] = byte
        pos += 1
    return pos


@njit(cache=True, inline="always")  # a call would incref/decref its arrays
def _write_int(buf: np.ndarray, pos: int, value: int, scratch: np.ndarray) -> int:
    """A non-negative or negative int64 in decimal, as `str(int)` writes it."""
    if value < 0:
        buf[pos] = 45  # "-"
        pos += 1
    digits = _digits(abs(value), scratch)
    return _write_bytes(buf, pos, scratch, _DIGITS - digits, _DIGITS)


@njit(cache=True, inline="always")
def _digits(magnitude: int, scratch: np.ndarray) -> int:
    """Write a non-negative int64's digits right-aligned into scratch; how many ("0" is one)."""
    rest = np.uint64(magnitude)  # unsigned: no sign fix-up in each division
    count = 0
    while True:
        scratch[_DIGITS - 1 - count] = np.uint64(48) + rest % _TEN
        rest //= _TEN
        count += 1
        if rest == 0:
            return count


@njit(cache=True, inline="always")
def _digits_at(magnitude: int, offset: int, scratch: np.ndarray) -> int:
    """Write a positive int64's digits right-aligned `offset` places from scratch's end."""
    rest = np.uint64(magnitude)
    count = 0
    while rest != 0:
        scratch[_DIGITS - 1 - offset - count] = np.uint64(48) + rest % _TEN
        rest //= _TEN
        count += 1
    return count


@njit(cache=True, inline="always")
def _wide_digits(hi: int, lo: int, scratch: np.ndarray) -> int:
    """The same for a non-negative wide number hi × 10**18 + lo."""
    if hi == 0:
        return _digits(lo, scratch)
    rest = np.uint64(lo)
    for i in range(18):
        scratch[_DIGITS - 1 - i] = np.uint64(48) + rest % _TEN
        rest //= _TEN
    return 18 + _digits_at(hi, 18, scratch)


@njit(cache=True, inline="always")  # a call would incref/decref its arrays
def _write_decimal(
    buf: np.ndarray, pos: int, hi: int, lo: int, exponent: int, scratch: np.ndarray
) -> int:
    """`str(Decimal)` of (hi × 10**18 + lo) × 10**exponent, 0 <= lo < 10**18 (the
    coefficient's sign is the Decimal's)."""
    if hi < 0:
        buf[pos] = 45  # "-"
        pos += 1
        if lo == 0:
            hi = -hi
        else:
            hi, lo = -hi - 1, _WIDE_BASE - lo
    count = _wide_digits(hi, lo, scratch)
    first = _DIGITS - count
    left_digits = exponent + count
    dot = left_digits if exponent <= 0 and left_digits > -6 else 1
    if dot <= 0:
        buf[pos] = 48  # "0"
        buf[pos + 1] = 46  # "."
        pos = _write_repeat(buf, pos + 2, 48, -dot)
        pos = _write_bytes(buf, pos, scratch, first, _DIGITS)
    elif dot >= count:
        pos = _write_bytes(buf, pos, scratch, first, _DIGITS)
        pos = _write_repeat(buf, pos, 48, dot - count)
    else:
        pos = _write_bytes(buf, pos, scratch, first, first + dot)
        buf[pos] = 46
        pos = _write_bytes(buf, pos + 1, scratch, first + dot, _DIGITS)
    if left_digits != dot:
        buf[pos] = 69  # "E"
        buf[pos + 1] = 45 if left_digits - dot < 0 else 43  # "-" / "+"
        pos = _write_int(buf, pos + 2, abs(left_digits - dot), scratch)
    return pos


@njit(cache=True, inline="always")
def _write_side(buf: np.ndarray, pos: int, buy: bool) -> int:
    """`str(OrderSide)`: "buy" or "sell"."""
    if buy:
        buf[pos], buf[pos + 1], buf[pos + 2] = 98, 117, 121
        return pos + 3
    buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3] = 115, 101, 108, 108
    return pos + 4


@njit(cache=True, inline="always")
def _longest(starts: np.ndarray) -> int:
    longest = 0
    for i in range(starts.shape[0] - 1):
        longest = max(longest, starts[i + 1] - starts[i])
    return longest


@njit(cache=True)
def rejection_lines(
    records: np.ndarray,
    quantities: np.ndarray,
    quantity_exponent: int,
    symbols: np.ndarray,
    symbol_starts: np.ndarray,
    reasons: np.ndarray,
    reason_starts: np.ndarray,
) -> np.ndarray:
    """Every rejection's hash line, concatenated; `quantities` are the coefficients of
    lot_size × lots, the rest as in `fill_lines`."""
    n = records.shape[0]
    buf = np.empty(n * (LINE_ROOM + _longest(symbol_starts)), dtype=np.uint8)
    scratch = np.empty(_DIGITS, dtype=np.uint8)
    pos = 0
    for i in range(n):
        leg = int(records[i, R_LEG])
        buf[pos] = 10  # "\n"
        buf[pos + 1] = 82  # "R"
        pos = _write_int(buf, pos + 2, leg, scratch)
        buf[pos] = 44  # ","
        pos = _write_bytes(buf, pos + 1, symbols, symbol_starts[leg], symbol_starts[leg + 1])
        buf[pos] = 44
        pos = _write_int(buf, pos + 1, int(records[i, R_BAR]), scratch)
        buf[pos] = 44
        pos = _write_side(buf, pos + 1, records[i, R_SIDE] > 0)
        buf[pos] = 44
        pos = _write_decimal(buf, pos + 1, 0, quantities[i], quantity_exponent, scratch)
        buf[pos] = 44
        reason = int(records[i, R_REASON])
        pos = _write_bytes(buf, pos + 1, reasons, reason_starts[reason], reason_starts[reason + 1])
    return buf[:pos]


@njit(cache=True)
def fill_lines(
    records: np.ndarray,
    units: np.ndarray,
    quantity_exponent: int,
    fee_exponent: int,
    symbols: np.ndarray,
    symbol_starts: np.ndarray,
    reasons: np.ndarray,
    reason_starts: np.ndarray,
) -> np.ndarray:
    """Every fill's hash line, concatenated (UTF-8 bytes).

    `units` are `velocitas.engine.fixed_point.fill_units`'s `U_*` columns;
    `symbols` the legs' UTF-8 symbols back to back, leg i's at
    `symbols[symbol_starts[i]:symbol_starts[i + 1]]`; `reasons` likewise the fill reasons.
    """
    n = records.shape[0]
    buf = np.empty(n * (LINE_ROOM + _longest(symbol_starts)), dtype=np.uint8)
    scratch = np.empty(_DIGITS, dtype=np.uint8)
    pos = 0
    for i in range(n):
        leg = int(records[i, F_LEG])
        buf[pos] = 10  # "\n"
        buf[pos + 1] = 70  # "F"
        pos = _write_int(buf, pos + 2, leg, scratch)
        buf[pos] = 44  # ","
        pos = _write_bytes(buf, pos + 1, symbols, symbol_starts[leg], symbol_starts[leg + 1])
        buf[pos] = 44
        pos = _write_int(buf, pos + 1, int(records[i, F_BAR]), scratch)
        buf[pos] = 44
        pos = _write_side(buf, pos + 1, records[i, F_SIDE] > 0)
        buf[pos] = 44
        quantity = units[i, U_QUANTITY]
        pos = _write_decimal(buf, pos + 1, 0, quantity, quantity_exponent, scratch)
        buf[pos] = 44
        pos = _write_decimal(buf, pos + 1, 0, units[i, U_PRICE], -8, scratch)
        buf[pos] = 44
        fee_hi, fee_lo = units[i, U_FEE_HI], units[i, U_FEE_LO]
        pos = _write_decimal(buf, pos + 1, fee_hi, fee_lo, fee_exponent, scratch)
        buf[pos] = 44
        reason = int(records[i, F_REASON])
        pos = _write_bytes(buf, pos + 1, reasons, reason_starts[reason], reason_starts[reason + 1])
    return buf[:pos]

"""PostgreSQL's binary COPY format: its framing, its epoch, and decoding bars into numpy columns.

The stream's header and trailer, the timestamptz zero (2000-01-01) and NUMERIC's sign words are
declared here once; every binary COPY this package writes (`velocitas.db.equity_copy`, the
staging rows of `velocitas.db.jobs`) or reads takes them from this module.

Why raw NUMERIC and not `::float8`: PostgreSQL casts NUMERIC to float8 through text and
`strtod`, which doubles the server's work. So bars travel as stored (`velocitas.db.copy_out` pulls
the stream) and `decode_bars` turns rows of (timestamptz, 5 × NUMERIC) into an int64 column and
five float64 columns in one compiled pass.

Each NUMERIC becomes the float64 nearest to its exact decimal value (what `float(Decimal)`
gives): its base-10000 digits form an integer I and a power of ten 10^k; when I < 2**53 and
|k| ≤ 22 both are exact doubles, so one IEEE division (or multiplication) rounds correctly. The
rare value outside that range (more than ~15 significant digits) is flagged by the kernel and
converted exactly in Python.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import numpy.typing as npt

from velocitas import jit
from velocitas.jit import njit

__all__ = [
    "COPY_HEADER",
    "COPY_SIGNATURE",
    "COPY_TRAILER",
    "NUMERIC_NAN",
    "NUMERIC_NEG",
    "NUMERIC_NINF",
    "NUMERIC_PINF",
    "PG_EPOCH_US",
    "decode_bars",
]

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
COPY_HEADER = COPY_SIGNATURE + bytes(8)
"""What a binary COPY stream starts with: the signature, flags (no OIDs) and a header
extension of length zero."""
COPY_TRAILER = b"\xff\xff"
"""What a binary COPY stream ends with: a field count of -1."""
PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01T00:00:00Z, PostgreSQL's timestamptz zero, in Unix microseconds."""

# The sign word of a binary NUMERIC.
NUMERIC_NEG = 0x4000
NUMERIC_NAN = 0xC000
NUMERIC_PINF = 0xD000
NUMERIC_NINF = 0xF000


def decode_bars(
    buffer: bytes | bytearray | npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Decode a binary COPY of rows (timestamptz, 5 × NUMERIC, no NULLs).

    Returns `opened_at` as int64 ns since the epoch and a (5, n) float64 array, one row per
    value column in the order selected.
    """
    if len(buffer) == 0:
        return np.empty(0, dtype=np.int64), np.empty((5, 0), dtype=np.float64)
    start = len(COPY_HEADER)
    if bytes(buffer[: len(COPY_SIGNATURE)]) != COPY_SIGNATURE or len(buffer) < start + len(
        COPY_TRAILER
    ):
        raise ValueError("not a PostgreSQL binary COPY stream")
    if int.from_bytes(bytes(buffer[start - 4 : start]), "big") != 0:  # the extension's length
        raise ValueError("binary COPY header extensions are not supported")
    if not jit.compiling():
        return _decode_plain(bytes(buffer), start)
    data = np.frombuffer(buffer, dtype=np.uint8) if not isinstance(buffer, np.ndarray) else buffer
    rows = _count_rows(data, start)
    if rows < 0:
        raise ValueError(f"malformed binary COPY stream (code {rows})")
    opened_at = np.empty(rows, dtype=np.int64)
    values = np.empty((5, rows), dtype=np.float64)
    # Untouched pages of np.empty are never mapped, so room for every value costs nothing.
    inexact_at = np.empty(rows * 5, dtype=np.int64)
    inexact_slot = np.empty(rows * 5, dtype=np.int64)
    n_inexact = _decode(data, start, opened_at, values, inexact_at, inexact_slot)
    flat = values.reshape(-1)
    view = data.data  # the array's bytes, not a copy
    for position, slot in zip(inexact_at[:n_inexact], inexact_slot[:n_inexact], strict=True):
        flat[slot] = _numeric_at(view, int(position))
    return opened_at, values


def _decode_plain(
    buffer: bytes, start: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`decode_bars` in plain Python, for a process that runs without numba (`velocitas.jit`):
    the compiled decoder run as Python reads a byte at a time (~30 us a value). Every value
    goes through `_numeric_at`, as the compiled decoder's inexact ones do."""
    times: list[int] = []
    columns: list[list[float]] = [[], [], [], [], []]
    p, end = start, len(buffer)
    while True:
        if p + 2 > end:
            raise ValueError("malformed binary COPY stream (code -4)")
        (fields,) = _FIELD_COUNT.unpack_from(buffer, p)
        if fields == -1:
            break
        if fields != 6 or p + 16 > end:
            raise ValueError(f"malformed binary COPY stream (code {-1 if fields != 6 else -2})")
        (microseconds,) = _TIMESTAMP.unpack_from(buffer, p + 6)
        times.append((microseconds + PG_EPOCH_US) * 1000)
        p += 14
        for column in columns:
            if p + 12 > end:
                raise ValueError("malformed binary COPY stream (code -2)")
            (length,) = _FIELD_LENGTH.unpack_from(buffer, p)
            if length < 0:
                raise ValueError("malformed binary COPY stream (code -3)")
            if p + 4 + length > end:
                raise ValueError("malformed binary COPY stream (code -2)")
            column.append(_numeric_at(buffer, p + 4))
            p += 4 + length
    return np.array(times, dtype=np.int64), np.array(columns, dtype=np.float64).reshape(5, -1)


_FIELD_COUNT = struct.Struct(">h")
_FIELD_LENGTH = struct.Struct(">i")
_TIMESTAMP = struct.Struct(">q")
_NUMERIC_HEAD = struct.Struct(">hhH")  # ndigits, weight, sign (dscale follows, then the digits)


def _numeric_at(buffer: bytes | memoryview, position: int) -> float:
    """The float nearest to the binary NUMERIC whose header starts at `position`: its integer
    of base-10000 digits M over or times a power of ten, which Python divides or converts
    correctly rounded (`float(Decimal)` of the value). The compiled decoder's fallback for the
    values it cannot convert exactly, and every value of the plain-Python decoder."""
    ndigits, weight, sign = _NUMERIC_HEAD.unpack_from(buffer, position)
    if sign == NUMERIC_NAN:
        return math.nan
    if sign == NUMERIC_PINF:
        return math.inf
    if sign == NUMERIC_NINF:
        return -math.inf
    mantissa = 0
    for digit in struct.unpack_from(f">{ndigits}H", buffer, position + 8):
        mantissa = mantissa * 10_000 + digit
    exponent = 4 * (weight - ndigits + 1)
    value = float(mantissa * 10**exponent) if exponent >= 0 else mantissa / 10**-exponent
    return -value if sign == NUMERIC_NEG else value


@njit(cache=True, nogil=True)
def _int16(data: npt.NDArray[np.uint8], p: int) -> int:
    value = (np.int64(data[p]) << 8) | np.int64(data[p + 1])
    return int(value - 65536 if value >= 32768 else value)


@njit(cache=True, nogil=True)
def _uint16(data: npt.NDArray[np.uint8], p: int) -> int:
    return int((np.int64(data[p]) << 8) | np.int64(data[p + 1]))


@njit(cache=True, nogil=True)
def _int32(data: npt.NDArray[np.uint8], p: int) -> int:
    value = (
        (np.int64(data[p]) << 24)
        | (np.int64(data[p + 1]) << 16)
        | (np.int64(data[p + 2]) << 8)
        | np.int64(data[p + 3])
    )
    return int(value - 4294967296 if value >= 2147483648 else value)


@njit(cache=True, nogil=True)
def _int64(data: npt.NDArray[np.uint8], p: int) -> np.int64:
    value = np.uint64(0)
    for i in range(8):
        value = (value << np.uint64(8)) | np.uint64(data[p + i])
    return np.int64(value)


@njit(cache=True, nogil=True)
def _count_rows(data: npt.NDArray[np.uint8], start: int) -> int:
    """Rows in the stream, or a negative code when it is not 6 non-NULL fields per row."""
    p = start
    end = data.size
    rows = 0
    while p + 2 <= end:
        fields = _int16(data, p)
        p += 2
        if fields == -1:
            return rows
        if fields != 6:
            return -1
        for _ in range(6):
            if p + 4 > end:
                return -2
            length = _int32(data, p)
            if length < 0:
                return -3  # NULL: the schema forbids it, so the query is not ours
            p += 4 + length
        if p > end:
            return -2
        rows += 1
    return -4  # no trailer


@njit(cache=True, nogil=True)
def _decode(
    data: npt.NDArray[np.uint8],
    start: int,
    opened_at: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    inexact_at: npt.NDArray[np.int64],
    inexact_slot: npt.NDArray[np.int64],
) -> int:
    pow10 = np.empty(23, dtype=np.float64)
    pow10[0] = 1.0
    for i in range(1, 23):
        pow10[i] = pow10[i - 1] * 10.0
    exact_limit = np.int64(1) << np.int64(53)
    n_inexact = 0
    p = start
    for row in range(opened_at.size):
        p += 2  # field count, checked by _count_rows
        p += 4  # timestamptz length (8)
        opened_at[row] = (_int64(data, p) + PG_EPOCH_US) * np.int64(1000)
        p += 8
        for column in range(5):
            length = _int32(data, p)
            p += 4
            ndigits = _int16(data, p)
            weight = _int16(data, p + 2)
            sign = _uint16(data, p + 4)
            if sign == NUMERIC_NAN:
                values[column, row] = np.nan
            elif sign == NUMERIC_PINF:
                values[column, row] = np.inf
            elif sign == NUMERIC_NINF:
                values[column, row] = -np.inf
            else:
                # Four base-10000 digits stay below 10**16 (no int64 overflow); a fifth
                # would make the mantissa at least 10**16 > 2**53: not exact, flag it.
                mantissa = np.int64(0)
                if ndigits <= 4:
                    for i in range(ndigits):
                        mantissa = mantissa * np.int64(10_000) + _int16(data, p + 8 + 2 * i)
                # value = mantissa × 10^(4 × (weight − ndigits + 1))
                exponent = 4 * (weight - ndigits + 1)
                if ndigits == 0:
                    value = 0.0
                elif ndigits > 4 or mantissa >= exact_limit or exponent > 22 or exponent < -22:
                    inexact_at[n_inexact] = p
                    inexact_slot[n_inexact] = column * opened_at.size + row
                    n_inexact += 1
                    value = 0.0
                elif exponent >= 0:
                    value = np.float64(mantissa) * pow10[exponent]
                else:
                    value = np.float64(mantissa) / pow10[-exponent]
                values[column, row] = -value if sign == NUMERIC_NEG else value
            p += length
    return n_inexact

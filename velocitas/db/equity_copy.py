"""Encoding a float64 equity curve as a binary COPY stream of `equity_chunk` rows.

    copy_equity_chunks(job_id, opened_at_ns, equity, chunk_points) -> bytes

Each value is stored as the NUMERIC equal to the shortest decimal that reads back as the same
float64 (what PostgreSQL's `float8::text::numeric` gives, with the same display scale), but
built here rather than by the server: orjson prints the floats (shortest round-trip digits, the
same Ryu-style digits PostgreSQL prints) and one compiled pass turns that text into NUMERIC's
base-10000 binary form inside `NUMERIC[]` and `TIMESTAMPTZ[]` arrays of `chunk_points` values
each. The server then only checks and stores the arrays: no staging table, no float -> text ->
numeric per value, no sort. NaN and ±infinity become NUMERIC's NaN and ±Infinity, as the cast
gives. Tests compare every stored value's text with the server's own cast.

The two agree on every float64 below 2**53 in magnitude. Above it (integers only, past any
realistic equity), PostgreSQL's output sometimes has more digits than the shortest (it prints
`23337239507947408` where orjson prints `2.333723950794741e+16`, and `1e23` as
`9.999999999999999e+22`), so `client_encodable` says False and the caller leaves such a curve
to the server's cast.
"""

from __future__ import annotations

import uuid

import numpy as np
import numpy.typing as npt
import orjson

from velocitas.db.pgbinary import (
    COPY_HEADER,
    COPY_TRAILER,
    NUMERIC_NAN,
    NUMERIC_NEG,
    NUMERIC_NINF,
    NUMERIC_PINF,
    PG_EPOCH_US,
)
from velocitas.jit import njit

__all__ = ["client_encodable", "copy_equity_chunks"]

_TIMESTAMPTZ_OID = 1184
_NUMERIC_OID = 1700
_POW10 = np.array([1, 10, 100, 1000], dtype=np.int64)
# Room per value: a timestamptz element (4 + 8) and a NUMERIC element of at most 17
# significant digits, so at most 5 base-10000 digits (4 + 8 + 10, rounded up). Per row: the
# field count, the uuid and int4 fields and two array headers.
_VALUE_BYTES = 12 + 24
_ROW_BYTES = 2 + 20 + 8 + 2 * 24
_EXACT_INTEGERS = 2.0**53


def client_encodable(equity: npt.NDArray[np.float64]) -> bool:
    """Whether `copy_equity_chunks` stores exactly what the server's cast would for `equity`:
    every finite value is below 2**53 in magnitude."""
    values = np.asarray(equity, dtype=np.float64)
    return not bool(np.any(np.isfinite(values) & (np.abs(values) >= _EXACT_INTEGERS)))


def copy_equity_chunks(
    job_id: uuid.UUID,
    opened_at_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    chunk_points: int,
) -> bytes:
    """The rows `(job_id, chunk, opened_at[], equity[])` for `COPY equity_chunk (job_id, chunk,
    opened_at, equity) FROM STDIN (FORMAT BINARY)`, `chunk_points` values a row."""
    values = np.ascontiguousarray(equity, dtype=np.float64)
    stamps = np.ascontiguousarray(opened_at_ns, dtype=np.int64)
    if len(stamps) != len(values):
        raise ValueError(f"{len(stamps)} equity instants but {len(values)} equity values")
    if chunk_points < 1:
        raise ValueError("chunk_points must be at least 1")
    n = len(values)
    chunks = -(-n // chunk_points)
    # orjson writes non-finite floats as `null`; the kernel reads those from `values` instead.
    text = np.frombuffer(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), dtype=np.uint8)
    start = len(COPY_HEADER)
    out = np.empty(
        start + n * _VALUE_BYTES + chunks * _ROW_BYTES + len(COPY_TRAILER), dtype=np.uint8
    )
    out[:start] = np.frombuffer(COPY_HEADER, dtype=np.uint8)
    job = np.frombuffer(job_id.bytes, dtype=np.uint8)
    end = _encode(text, values, stamps // 1000 - PG_EPOCH_US, job, chunk_points, out, start)
    if end < 0:
        raise ValueError(f"could not read orjson's output for value {-end - 1}")
    out[end : end + len(COPY_TRAILER)] = np.frombuffer(COPY_TRAILER, dtype=np.uint8)
    return out[: end + len(COPY_TRAILER)].tobytes()


@njit(cache=True, nogil=True)
def _put16(out: npt.NDArray[np.uint8], p: int, value: int) -> int:
    out[p] = (value >> 8) & 0xFF
    out[p + 1] = value & 0xFF
    return p + 2


@njit(cache=True, nogil=True)
def _put32(out: npt.NDArray[np.uint8], p: int, value: int) -> int:
    for i in range(4):
        out[p + i] = (value >> (24 - 8 * i)) & 0xFF
    return p + 4


@njit(cache=True, nogil=True)
def _put64(out: npt.NDArray[np.uint8], p: int, value: np.int64) -> int:
    bits = np.uint64(value)
    for i in range(8):
        out[p + i] = np.uint8((bits >> np.uint64(56 - 8 * i)) & np.uint64(0xFF))
    return p + 8


@njit(cache=True, nogil=True)
def _array_header(out: npt.NDArray[np.uint8], p: int, oid: int, count: int) -> int:
    """A one-dimensional array of `count` non-NULL elements of type `oid`; its field length is
    left for the caller to fill in once the elements are written."""
    p = _put32(out, p, 1)  # dimensions
    p = _put32(out, p, 0)  # flags: no NULLs
    p = _put32(out, p, oid)
    p = _put32(out, p, count)
    return _put32(out, p, 1)  # lower bound


@njit(cache=True, nogil=True)
def _encode(
    text: npt.NDArray[np.uint8],
    values: npt.NDArray[np.float64],
    at_us: npt.NDArray[np.int64],
    job: npt.NDArray[np.uint8],
    chunk_points: int,
    out: npt.NDArray[np.uint8],
    start: int,
) -> int:
    """Write the rows from `start`; return the end, or -(i + 1) if value i could not be read."""
    n = values.size
    digits = np.empty(24, dtype=np.int64)
    groups = np.empty(16, dtype=np.int64)
    t = 1  # past the "["
    p = start
    for first in range(0, n, chunk_points):
        last = min(first + chunk_points, n)
        p = _put16(out, p, 4)  # fields
        p = _put32(out, p, 16)
        for i in range(16):
            out[p + i] = job[i]
        p += 16
        p = _put32(out, p, 4)
        p = _put32(out, p, first // chunk_points)
        length_at = p
        p = _array_header(out, p + 4, _TIMESTAMPTZ_OID, last - first)
        for i in range(first, last):
            p = _put32(out, p, 8)
            p = _put64(out, p, at_us[i])
        _put32(out, length_at, p - length_at - 4)
        length_at = p
        p = _array_header(out, p + 4, _NUMERIC_OID, last - first)
        for i in range(first, last):
            # One token of orjson's output: -?digits(.digits)?(e[+-]?digits)? or null.
            negative = False
            count = 0  # significant digits kept, leading zeros dropped
            point = 0  # kept digits after the decimal point
            seen_point = False
            exponent = 0
            exponent_negative = False
            in_exponent = False
            while t < text.size and text[t] != 44 and text[t] != 93:  # ',' and ']'
                c = text[t]
                if in_exponent:
                    if c == 45:  # '-'
                        exponent_negative = True
                    elif 48 <= c <= 57:
                        exponent = exponent * 10 + (c - 48)
                elif c == 45:
                    negative = True
                elif c == 46:  # '.'
                    seen_point = True
                elif c == 101 or c == 69:  # 'e', 'E'
                    in_exponent = True
                elif 48 <= c <= 57:
                    if count > 0 or c != 48:
                        if count == digits.size:
                            return -(i + 1)
                        digits[count] = c - 48
                        count += 1
                    if seen_point:
                        point += 1  # a leading zero after the point still shifts the value
                elif c != 43 and c != 110 and c != 117 and c != 108:  # '+', "null"
                    return -(i + 1)
                t += 1
            t += 1  # past the separator
            if exponent_negative:
                exponent = -exponent
            p = _put32(out, p, 0)  # element length, filled in below
            element = p
            value = values[i]
            if np.isnan(value):
                p = _put16(out, p, 0)
                p = _put16(out, p, 0)
                p = _put16(out, p, NUMERIC_NAN)
                p = _put16(out, p, 0)
            elif np.isinf(value):
                p = _put16(out, p, 0)
                p = _put16(out, p, 0)
                p = _put16(out, p, NUMERIC_PINF if value > 0 else NUMERIC_NINF)
                p = _put16(out, p, 0)
            else:
                while count > 0 and digits[count - 1] == 0:
                    count -= 1
                    point -= 1
                if count > 17:  # not a shortest round-trip float64: not orjson's output
                    return -(i + 1)
                # value = digits × 10^scale, the last digit's power of ten being `scale`
                scale = exponent - point
                if count == 0:  # zero, which NUMERIC stores unsigned and with scale 0
                    p = _put16(out, p, 0)
                    p = _put16(out, p, 0)
                    p = _put16(out, p, 0)
                    p = _put16(out, p, 0)
                else:
                    top = scale + count - 1  # the leading digit's power of ten
                    weight = top // 4
                    bottom = scale // 4
                    ndigits = weight - bottom + 1
                    for g in range(ndigits):
                        groups[g] = 0
                    for d in range(count):
                        power = top - d
                        group = weight - power // 4
                        groups[group] += digits[d] * _POW10[power % 4]
                    p = _put16(out, p, ndigits)
                    p = _put16(out, p, weight)
                    p = _put16(out, p, NUMERIC_NEG if negative else 0)
                    p = _put16(out, p, max(0, -scale))
                    for g in range(ndigits):
                        p = _put16(out, p, groups[g])
            _put32(out, element - 4, p - element)
        _put32(out, length_at, p - length_at - 4)
    return p

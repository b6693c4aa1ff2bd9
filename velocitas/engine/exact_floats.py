"""Floats of exact amounts, rounded as Python rounds them (numba).

The metrics take each trade's net P&L as `float(Decimal)` (the float nearest the exact value)
and its return as `float(net / notional)` (a Decimal quotient rounded to the context's digits,
then the nearest float). For the scaled-integer ledger both are a quotient of two exact
integers. `quotients` computes it in double-double arithmetic (about 100 correct bits) and
rounds to float64; the result is the nearest float unless the exact quotient lies within
`window` (relative) of a midpoint between two floats, where the double-double's error, or the
Decimal's own rounding of the quotient, could decide the other way. Such a quotient is flagged
and the caller computes it the slow way, in Python (about one in 2**30 of them).
"""

from __future__ import annotations

import math

import numpy as np

from velocitas.jit import njit

__all__ = ["quotients"]

_SPLITTER = 134217729.0  # 2**27 + 1
_BASE = 1e18  # a wide number is hi × 10**18 + lo (velocitas.engine.fixed_point)
_HALF = 1e9
_HALF_BASE = 10**9
_FLOAT_EXACT = 2**53


@njit(cache=True, inline="always")
def _product_error(a: float, b: float, product: float) -> float:
    """a × b − fl(a × b), exactly (Dekker's TwoProduct)."""
    c = _SPLITTER * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLITTER * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


@njit(cache=True, inline="always")
def _sum_error(a: float, b: float, total: float) -> float:
    """a + b − fl(a + b), exactly (Knuth's TwoSum)."""
    b_virtual = total - a
    return (a - (total - b_virtual)) + (b - b_virtual)


@njit(cache=True, inline="always")
def _add(hi: float, lo: float, x: float) -> tuple[float, float]:
    """A double-double plus a float."""
    s = hi + x
    return s, lo + _sum_error(hi, x, s)


@njit(cache=True, inline="always")
def _wide_to_double_double(hi: int, lo: int) -> tuple[float, float, bool]:
    """hi × 10**18 + lo as a double-double (False when |hi| is too large to be exact)."""
    if abs(hi) >= _FLOAT_EXACT:
        return 0.0, 0.0, False
    upper = float(hi) * _BASE
    upper_error = _product_error(float(hi), _BASE, upper)
    middle_int = lo // _HALF_BASE
    middle = float(middle_int) * _HALF
    middle_error = _product_error(float(middle_int), _HALF, middle)
    s, e = _add(upper, 0.0, middle)
    s, e = _add(s, e, upper_error)
    s, e = _add(s, e, middle_error)
    s, e = _add(s, e, float(lo % _HALF_BASE))
    total = s + e
    return total, _sum_error(s, e, total), True


@njit(cache=True, nogil=True)  # sweeps run it on every core at once
def quotients(
    numerator: np.ndarray,
    price: np.ndarray,
    quantity: np.ndarray,
    scale: float,
    window: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(nearest float of numerator ÷ denominator, ambiguous) per row.

    `numerator` is wide, (n, 2) [hi, lo]; the denominator is price × quantity × scale (int64
    columns; pass ones for a plain power of ten) with `scale` an exact float power of ten.
    """
    n = numerator.shape[0]
    out = np.empty(n)
    ambiguous = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        n_hi, n_lo, exact = _wide_to_double_double(numerator[i, 0], numerator[i, 1])
        if not exact:
            ambiguous[i] = True
            out[i] = np.nan
            continue
        if n_hi == 0.0:
            out[i] = 0.0
            continue
        # quantity (int64) as a double-double, then × price and × scale (exact floats)
        q_hi = float(quantity[i])  # below 10**18 (`fill_units`): the difference fits int64
        q_lo = float(quantity[i] - np.int64(q_hi))
        p = float(price[i])
        d_hi = q_hi * p
        d_lo = _product_error(q_hi, p, d_hi) + q_lo * p
        s = d_hi * scale
        d_lo = _product_error(d_hi, scale, s) + d_lo * scale
        d_hi = s + d_lo
        d_lo = _sum_error(s, d_lo, d_hi)
        # double-double division: q1 + q2
        q1 = n_hi / d_hi
        product = q1 * d_hi
        product_error = _product_error(q1, d_hi, product)
        remainder = (((n_hi - product) - product_error) + n_lo) - q1 * d_lo
        q2 = remainder / d_hi
        value = q1 + q2
        residual = _sum_error(q1, q2, value)
        mantissa, exponent = math.frexp(abs(value))
        half_ulp = math.ldexp(1.0, exponent - 54)
        # Near a midpoint, or at a power of two (where the ulp below is half the one above).
        if abs(abs(residual) - half_ulp) <= window * abs(value) or mantissa == 0.5:
            ambiguous[i] = True
        out[i] = value
    return out, ambiguous

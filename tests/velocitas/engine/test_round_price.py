"""`round_price`: the fill price's rounding, equal in the compiled and the plain-Python engine
(`velocitas.jit`), and equal to what the compiled engine always did (numba's `round(x, n)`)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from velocitas.engine.positions import round_price

# The function as plain Python (in a `VELOCITAS_JIT=python` run it is that already).
plain_round_price = getattr(round_price, "py_func", round_price)


@njit(cache=False)
def _numba_round(x: float, decimals: int) -> float:
    return round(x, decimals)


def _agree(x: float, decimals: int) -> None:
    compiled = round_price(x, decimals)
    plain = plain_round_price(x, decimals)
    builtin = _numba_round(x, decimals)
    assert np.float64(compiled).tobytes() == np.float64(plain).tobytes(), (x, decimals)
    assert np.float64(compiled).tobytes() == np.float64(builtin).tobytes(), (x, decimals)


def test_the_scaled_price_is_rounded_half_to_even_in_both_modes() -> None:
    """Where Python's own `round` differs from numba's: it rounds the exact decimal value."""
    x = 939.15  # stored as 939.14999999999998; x * 10 rounds to 9391.5 exactly
    assert round(x, 1) == 939.1  # Python, on the exact value
    assert _numba_round(x, 1) == 939.2  # numba: rint(9391.5), half to even
    cases = [(0.125, 2, 0.12), (0.375, 2, 0.38), (-2.5, 0, -2.0), (3.5, 0, 4.0),
             (1.0000000000000002, 15, 1.0), (939.15, 1, 939.2), (656.6565, 3, 656.656)]  # fmt: skip
    for price, decimals, expected in cases:
        assert round_price(price, decimals) == expected
        assert plain_round_price(price, decimals) == expected
        _agree(price, decimals)


def test_edges_agree() -> None:
    for x in [0.0, -0.0, math.inf, -math.inf, math.nan, 1e300, -1e300, 5e-324,
              0.49999999999999994, 4503599627370495.5, 2.0**53, 1e22 + 0.5]:  # fmt: skip
        for decimals in (0, 1, 2, 8, 12, 22, 25):
            compiled = round_price(x, decimals)
            plain = plain_round_price(x, decimals)
            if math.isnan(x):
                assert math.isnan(compiled)
                assert math.isnan(plain)
            else:
                _agree(x, decimals)


@settings(max_examples=3000, deadline=None)
@given(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
    | st.integers(-(10**10), 10**10).map(lambda k: k / 8),  # many exact halves
    st.integers(0, 12),
)
def test_random_prices_agree(x: float, decimals: int) -> None:
    _agree(x, decimals)

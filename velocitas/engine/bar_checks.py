"""One-pass checks of a leg's bars before a run (numba): each is a single loop over arrays
that numpy would walk several times, with a temporary array per comparison."""

from __future__ import annotations

import numpy as np

from velocitas.jit import njit

__all__ = ["positive_and_finite", "strictly_increasing"]


@njit(cache=True)
def strictly_increasing(times: np.ndarray) -> bool:
    for i in range(1, times.shape[0]):  # noqa: SIM110  # numba compiles no generator into all()
        if not times[i] > times[i - 1]:
            return False
    return True


@njit(cache=True)
def positive_and_finite(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> bool:
    """Every price > 0 and < inf (NaN fails both)."""
    ok = True
    for i in range(close.shape[0]):  # `&`, not `and`: no branch, so the loop vectorises
        ok &= (open_[i] > 0.0) & (open_[i] < np.inf) & (high[i] > 0.0) & (high[i] < np.inf)
        ok &= (low[i] > 0.0) & (low[i] < np.inf) & (close[i] > 0.0) & (close[i] < np.inf)
    return ok

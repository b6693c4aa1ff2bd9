"""Arrays that the combinations of one sweep share, computed once per sweep.

A sweep runs one strategy over the same bars with many parameter sets, and many of those sets
share a part: a Donchian grid of 10 entry × 10 exit windows needs 10 rolling maxima, not 100; an
RSI grid over periods and levels needs one RSI per period; an ensemble sweep over its threshold
needs each member's sides once. A strategy asks for such a part with `shared(bars, key,
compute)`; inside `sharing(bars)` (the sweep's fast path opens it) the first caller of a key
computes it and every later caller gets the same array, read-only, so that no caller can change
what the others read. Outside `sharing`, `shared` just calls `compute`: a single backtest keeps
nothing.

Results are the very arrays `compute` returns, so a sweep's rows cannot change; the key must name
everything the array depends on besides the bars (the indicator, the bar column, each
parameter). Memory is bounded: least recently used arrays are dropped past the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

__all__ = ["DEFAULT_BUDGET_BYTES", "SharedArrays", "shared", "sharing"]

DEFAULT_BUDGET_BYTES = 96 * 2**20
"""What one sweep may keep: twelve float64 arrays of a million bars (a Donchian grid of ten exit
windows cycles through eleven; a sweep of 100 combinations on 1M bars stays under 500 MB)."""

A = TypeVar("A", bound=np.ndarray[Any, Any])


class SharedArrays:
    """One sweep's arrays by key, least recently used first, within a budget in bytes.

    Thread-safe: the sweep runs combinations on threads. Two threads asking for the same key at
    once compute it once: the second waits for the first (whose numba loop releases the GIL).
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.computed = 0
        self.reused = 0
        self._entries: OrderedDict[Hashable, Future[np.ndarray[Any, Any]]] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], A]) -> A:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = Future()
                self.computed += 1
                owner = True
            else:
                self._entries.move_to_end(key)
                self.reused += 1
                owner = False
        if not owner:
            return entry.result()  # type: ignore[return-value]
        try:
            array = compute()
        except BaseException as error:
            with self._lock:
                self._entries.pop(key, None)  # the next caller computes it again
            entry.set_exception(error)
            raise
        array.flags.writeable = False
        entry.set_result(array)
        with self._lock:
            if key in self._entries:
                self._sizes[key] = array.nbytes
                self._held += array.nbytes
                self._evict()
        return array

    def _evict(self) -> None:
        """Drop the least recently used finished arrays until the budget holds (lock held)."""
        for key in list(self._entries):
            if self._held <= self.budget_bytes:
                return
            if key in self._sizes:  # a key still being computed has no size yet: kept
                del self._entries[key]
                self._held -= self._sizes.pop(key)


_ACTIVE: dict[int, tuple[object, SharedArrays, int]] = {}  # id(bars): (bars, arrays, openers)
_ACTIVE_LOCK = threading.Lock()


@contextmanager
def sharing(bars: object, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> Iterator[SharedArrays]:
    """Share `shared` arrays computed on `bars` (this very object) until the block ends.

    Blocks on the same bars nest (two sweeps of one process over the same bars share one
    store, dropped when the last block ends)."""
    with _ACTIVE_LOCK:
        held, arrays, openers = _ACTIVE.get(id(bars), (bars, SharedArrays(budget_bytes), 0))
        # Holding the bars keeps their id from being reused by another object meanwhile.
        _ACTIVE[id(bars)] = (held, arrays, openers + 1)
    try:
        yield arrays
    finally:
        with _ACTIVE_LOCK:
            held, arrays, openers = _ACTIVE[id(bars)]
            if openers == 1:
                del _ACTIVE[id(bars)]
            else:
                _ACTIVE[id(bars)] = (held, arrays, openers - 1)


def shared(bars: object, key: Hashable, compute: Callable[[], A]) -> A:
    """`compute()`, or the array it gave earlier in the open `sharing(bars)` block (read-only)."""
    active = _ACTIVE.get(id(bars))
    if active is None or active[0] is not bars:
        return compute()
    return active[1].get(key, compute)

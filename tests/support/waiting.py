"""Waiting with a deadline: poll a predicate instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    message: str = "the condition held",
    *,
    interval: float = 0.05,
) -> T:
    """Call `predicate` until it returns something truthy and return that value.

    Fails the test with an `AssertionError` naming `message` (what was awaited, e.g. "the job
    finished") and the last value seen once `timeout` seconds have passed. An exception the
    predicate raises propagates at once: a predicate can stop the wait early (say, because the
    server it waits for has exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting until {message} (last: {value!r})"
            )
        time.sleep(interval)

"""`njit`: numba's compiler, or the plain Python function where compiling costs more than it saves.

Every loop of the engine, the indicators and the decoders is written once, in the subset of
Python that numba compiles. Compiled is right for any real run. But a process pays about 0.8 s
before its first compiled function runs, even with numba's on-disk cache warm (numba's import,
its CPU target's registries, scipy's BLAS it probes), and a backtest of a few thousand bars needs
a fraction of that as plain Python. So a short-lived process that knows its run is small (the
CLI's `backtest run`, see `velocitas_cli.small_runs`) asks for plain Python before it imports any
module with a loop, and `numba` is never imported.

The choice is made once per process, by the first function decorated: `VELOCITAS_JIT=python`
in the environment, or `use_plain_python()` called before that. Both modes give the same
results: the fixture hashes and the exact ledger's property test run in both
(`tests/velocitas/engine/test_plain_python.py`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["JIT_ENV", "compiling", "njit", "use_plain_python"]

JIT_ENV = "VELOCITAS_JIT"
"""`numba` (the default) or `python`."""

_MODES = ("numba", "python")
_mode: str | None = None  # fixed by the first decoration


def _current_mode() -> str:
    if _mode is None:
        requested = os.environ.get(JIT_ENV, "numba").strip().lower() or "numba"
        if requested not in _MODES:
            raise ValueError(f"{JIT_ENV} must be one of {', '.join(_MODES)}, not {requested!r}")
        _fix(requested)
    assert _mode is not None
    return _mode


def _fix(mode: str) -> None:
    global _mode
    _mode = mode
    if mode == "python":
        # Compiled integer arithmetic wraps silently (the tick generator's hash relies on it);
        # numpy's scalars wrap the same way but warn. Only our own loops' warnings are dropped.
        warnings.filterwarnings(
            "ignore", r"overflow encountered in scalar", RuntimeWarning, r"velocitas\."
        )


def compiling() -> bool:
    """True when decorated functions are compiled by numba (fixes the mode if not yet fixed)."""
    return _current_mode() == "numba"


def use_plain_python() -> bool:
    """Run every loop decorated from now on as plain Python, if nothing was decorated yet.

    Returns whether the process runs plain Python now: False when a module with a compiled
    loop was already imported (mixing the two would call compiled code with Python objects)."""
    if _mode is None:
        _fix("python")
    return _mode == "python"


def njit(*args: Any, **options: Any) -> Any:
    """`numba.njit(...)` in the compiled mode, the function itself otherwise; both forms,
    `@njit` and `@njit(cache=True, ...)`."""
    if compiling():
        import numba  # here, not at the top: the plain mode must never import it

        return numba.njit(*args, **options)
    if args and callable(args[0]):
        return args[0]

    def plain(function: Callable[..., Any]) -> Callable[..., Any]:
        return function

    return plain

"""Velocitas: the shared domain library every service depends on.

`from velocitas import Backtest` is the notebook API (`velocitas.notebook`), imported on first
access so that `import velocitas` stays light for services that never use pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velocitas.notebook import Backtest

__all__ = ["Backtest", "__version__"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Backtest":
        try:
            from velocitas.notebook import Backtest
        except ModuleNotFoundError as exc:
            if exc.name not in ("pandas", "numpy"):
                raise
            raise ModuleNotFoundError(
                f"the notebook API needs {exc.name}: pip install 'velocitas[notebook]'",
                name=exc.name,
            ) from exc
        return Backtest
    raise AttributeError(f"module 'velocitas' has no attribute {name!r}")

"""The strategy library: typed parameters with bounds, vectorised signals, a registry.

See `velocitas.strategies.base` for the contract and docs/strategies.md for every rule.
"""

from __future__ import annotations

from velocitas.strategies import registry
from velocitas.strategies.base import I8, AllowShort, Bars, Strategy, StrategyParams, long_only

__all__ = ["I8", "AllowShort", "Bars", "Strategy", "StrategyParams", "long_only", "registry"]

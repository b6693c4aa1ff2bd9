"""Pure value types of the trading domain. No I/O, no frameworks."""

from core.domain.bars import BarArrays
from core.domain.timeframe import Timeframe

__all__ = ["BarArrays", "Timeframe"]

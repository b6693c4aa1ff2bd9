"""Pure value types of the trading domain. No I/O, no frameworks."""

from velocitas.domain.bars import BarArrays
from velocitas.domain.timeframe import Timeframe

__all__ = ["BarArrays", "Timeframe"]

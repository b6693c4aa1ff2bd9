"""Bar timeframes: a fixed grid of UTC-aligned intervals."""

from __future__ import annotations

from enum import StrEnum

_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}


class Timeframe(StrEnum):
    """A bar's length. Bars open on the UTC grid of their length (epoch-aligned)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return _SECONDS[self.value]

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """`Timeframe("1h")` with an error message that lists the valid choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown timeframe {text!r}; choose one of {choices}") from None

"""How a symbol is spelled: the one pattern the importer stores and every request is held to."""

from __future__ import annotations

__all__ = ["SYMBOL_PATTERN"]

SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$"
"""A letter or digit, then up to 31 of letters, digits and `. _ : / -` (`BTCUSDT`, `BRK.B`,
`EUR/USD`). Match it whole (`re.fullmatch`): Python's `$` also matches before a final newline."""

"""How domain values are written in JSON: money as plain decimal text, instants as ISO-8601 UTC.

Both spellings are part of the result hash's input and of every API answer, so they never change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

__all__ = ["decimal_text", "instant_text"]


def decimal_text(value: Decimal) -> str:
    """Plain decimal notation, never exponent form ("0.00000001", not "1E-8")."""
    return format(value, "f")


def instant_text(value: datetime) -> str:
    """ISO-8601 with `Z` for UTC ("2024-01-01T00:00:00Z")."""
    return value.isoformat().replace("+00:00", "Z")

"""Durations written the way people type them: `90s`, `15m`, `12h`, `3d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

from velocitas.errors import InvalidRequest

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, *, field: str = "window") -> timedelta:
    """`"3d"` -> 3 days. Raises `InvalidRequest` naming `field` for anything else or zero."""
    match = _PATTERN.match(text.lower())
    if not match:
        raise InvalidRequest(
            f"{field}: {text!r} is not a duration like 90s, 15m, 12h, 3d or 2w", field=field
        )
    value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if value <= timedelta(0):
        raise InvalidRequest(f"{field}: must be positive", field=field)
    return value

"""Times written as text, read one way everywhere: durations (`90s`, `15m`, `12h`, `3d`, `2w`)
and ISO-8601 instants.

Both raise `InvalidRequest` with `field` set to the caller's name for the value (the message
says only what is wrong with it), so an HTTP route answers 422 and the CLI exits 2 without
translating anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from velocitas.errors import InvalidRequest

__all__ = ["parse_duration", "parse_instant"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, *, field: str = "window") -> timedelta:
    """A positive length: a number (`3`, `1.5`) and a unit, `s`, `m`, `h`, `d` or `w`, any case,
    spaces allowed around and between (`"3d"` -> 3 days, `" 90 M "` -> 90 minutes).

    Raises `InvalidRequest(field=field)` for anything else, for zero, and past `timedelta`'s
    range."""
    match = _DURATION.match(text.lower())
    if not match:
        raise InvalidRequest(
            f"{text!r} is not a duration like 90s, 15m, 12h, 3d or 2w", field=field
        )
    try:
        value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise InvalidRequest(f"{text!r} is too long a duration", field=field) from None
    if value <= timedelta(0):
        raise InvalidRequest(f"{text!r} is not a positive duration", field=field)
    return value


def parse_instant(text: str, *, field: str, naive: tzinfo | None = UTC) -> datetime:
    """An ISO-8601 date or time (`2024-01-01`, `2024-01-01T12:00:00Z`, `...+01:00`), spaces
    around allowed. A time without an offset is read in `naive` (UTC unless told), or refused
    when `naive` is None. The offset written is kept (convert with `astimezone` if needed).

    Raises `InvalidRequest(field=field)` for anything else."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(f"{text!r} is not an ISO-8601 time", field=field) from None
    if moment.tzinfo is not None:
        return moment
    if naive is None:
        raise InvalidRequest(
            f"{text!r} has no time zone (add Z or an offset like +01:00)", field=field
        )
    return moment.replace(tzinfo=naive)

"""Times written as text, read one way everywhere: durations (`90s`, `15m`, `12h`, `3d`, `2w`,
`6mo`, `2y`) and ISO-8601 instants.

Both raise `InvalidRequest` with `field` set to the caller's name for the value (the message
says only what is wrong with it), so an HTTP route answers 422 and the CLI exits 2 without
translating anything.

Instants lie in [`EARLIEST`, `LATEST`) and durations are at most `LONGEST`: any instant moved
by any one duration stays inside `datetime`'s years 1..9999, so no route ever overflows while
shifting one (`0001-01-01T00:00:00Z` minus a look-back window did, and answered 500).
`in_range` is the check for pydantic fields (it raises `ValueError`, which they answer as 422).
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from velocitas.errors import InvalidRequest

__all__ = [
    "EARLIEST",
    "LATEST",
    "LONGEST",
    "Duration",
    "Instant",
    "add_months",
    "in_range",
    "parse_duration",
    "parse_instant",
]

EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
LONGEST = timedelta(days=500 * 365.25)
"""Bounds of every instant and duration the platform reads; see the module docstring."""


_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_MONTHS = {"mo": 1, "y": 12}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mo|[smhdwy])\s*$")
_UPPER_M = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*M\s*$")
_MONTH_DAYS = 365.25 / 12


class Duration(timedelta):
    """A duration as written. A timedelta of its (nominal) length, so fixed-length code uses
    it as one; `months` is set for calendar units (`mo`, `y`: a month counts 365.25 / 12 days
    as a timedelta), and `after`/`before` step by calendar months, clamping to month ends
    (`6mo` after 31 January is 31 July; `1mo` after it, 29 February in a leap year)."""

    months: int
    text: str
    words: str

    def __new__(cls, text: str, words: str, length: timedelta, months: int = 0) -> Duration:
        self = super().__new__(
            cls, days=length.days, seconds=length.seconds, microseconds=length.microseconds
        )
        self.months, self.text, self.words = months, text, words
        return self

    def after(self, moment: datetime, times: int = 1) -> datetime:
        """`moment` plus `times` of this duration (calendar months for `mo`/`y`)."""
        if not self.months:
            return moment + timedelta(microseconds=(self // timedelta(microseconds=1)) * times)
        return add_months(moment, self.months * times)

    def before(self, moment: datetime) -> datetime:
        """`moment` minus this duration (calendar months for `mo`/`y`)."""
        return self.after(moment, -1)

    def __str__(self) -> str:
        return self.text


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, the day clamped to the month's last."""
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_duration(text: str, *, field: str = "window") -> Duration:
    """A positive length: a number (`3`, `1.5`) and a unit, `s`, `m` (minutes), `h`, `d`, `w`,
    `mo` (months) or `y` (years; months and years whole), any case, spaces allowed around and
    between (`"3d"` -> 3 days, `" 90 m "` -> 90 minutes, `"6MO"` -> 6 months). A capital `M`
    alone is refused: it reads as minutes or months.

    Raises `InvalidRequest(field=field)` for anything else, for zero, and past `timedelta`'s
    range."""
    upper = _UPPER_M.match(text)
    if upper:
        n = upper.group(1)
        raise InvalidRequest(
            f"{text.strip()} is ambiguous: write {n}m for {n} minutes or {n}mo for {n} months",
            field=field,
        )
    match = _DURATION.match(text.lower())
    if not match:
        raise InvalidRequest(
            f"{text!r} is not a duration like 90s, 15m, 12h, 3d, 2w, 6mo or 2y", field=field
        )
    number, unit = match.group(1), match.group(2)
    written = text.strip()
    try:
        if unit in _MONTHS:
            if not number.isdigit():
                raise InvalidRequest(f"{written!r}: months and years come whole", field=field)
            months = int(number) * _MONTHS[unit]
            words = _words(int(number), "month" if unit == "mo" else "year")
            value = Duration(written, words, timedelta(days=months * _MONTH_DAYS), months)
        else:
            length = timedelta(**{_UNITS[unit] + "s": float(number)})
            value = Duration(written, _words(float(number), _UNITS[unit]), length)
    except OverflowError:
        raise InvalidRequest(f"{text!r} is too long a duration", field=field) from None
    if value > LONGEST:
        raise InvalidRequest(f"{text!r} is too long a duration (at most 500 years)", field=field)
    if value <= timedelta(0):
        raise InvalidRequest(f"{text!r} is not a positive duration", field=field)
    return value


def _words(number: float, unit: str) -> str:
    shown = f"{number:g}"
    return f"{shown} {unit}" if shown == "1" else f"{shown} {unit}s"


def parse_instant(text: str, *, field: str, naive: tzinfo | None = UTC) -> datetime:
    """An ISO-8601 date or time (`2024-01-01`, `2024-01-01T12:00:00Z`, `...+01:00`), spaces
    around allowed. A time without an offset is read in `naive` (UTC unless told), or refused
    when `naive` is None. The offset written is kept (convert with `astimezone` if needed).

    Raises `InvalidRequest(field=field)` for anything else, and outside [`EARLIEST`, `LATEST`)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(f"{text!r} is not an ISO-8601 time", field=field) from None
    if moment.tzinfo is None:
        if naive is None:
            raise InvalidRequest(
                f"{text!r} has no time zone (add Z or an offset like +01:00)", field=field
            )
        moment = moment.replace(tzinfo=naive)
    try:
        return in_range(moment)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field=field) from None


def in_range(moment: datetime) -> datetime:
    """`moment` (time-zone aware) if it lies in [`EARLIEST`, `LATEST`), else `ValueError`
    saying so: the check pydantic fields of instants run (`AfterValidator(in_range)`)."""
    # Comparing aware datetimes never converts them, so this cannot overflow itself.
    if not EARLIEST <= moment < LATEST:
        raise ValueError(
            f"{moment.isoformat()} is outside the instants accepted "
            f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}, UTC)"
        )
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(in_range)]
"""A pydantic field (body or query) of an instant with a time zone, in [`EARLIEST`, `LATEST`)."""

"""Market calendars: when a market trades, how many bars a year it has, and which bars a series
should hold.

Three kinds (docs/backtesting-assumptions.md, "Calendars"):

- `crypto`: 24/7, UTC. A year is 365 days of bars.
- `fx`: 24/5, from Sunday 17:00 to Friday 17:00 New York time. A year is 260 days of bars.
- an exchange by its `exchange_calendars` code (`XNYS`, `XLON`, `XTKS`, ...): equities, trading
  the exchange's sessions. A year is the exchange's sessions per year (252 for XNYS); an
  intraday year is those sessions times the typical session length.

`market_calendar(name)` gives one by name; `infer_calendar(opened_at_ns, timeframe)` picks one
from a series' spacing (no bars over a weekend means a market that closes on weekends); and
`resolve_calendar(name, opened_at_ns, timeframe)` does the first when a name is given, else the
second. The legacy names `crypto_24_7` and `exchange` mean `crypto` and `XNYS`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

__all__ = [
    "CalendarKind",
    "MarketCalendar",
    "calendar_names",
    "infer_calendar",
    "known_calendar",
    "market_calendar",
    "missing_opens",
    "resolve_calendar",
]

CalendarKind = Literal["crypto", "fx", "equity"]

_DAY_S = 86_400
_DAY_NS = _DAY_S * 1_000_000_000
_ALIASES = {"crypto_24_7": "crypto", "exchange": "XNYS", "24/7": "crypto", "24/5": "fx"}
# Ten whole years inside every maintained calendar's range: the sessions per year are their
# mean, rounded (XNYS: 2,516 sessions -> 252).
_REFERENCE = ("2010-01-01", "2019-12-31")
# 1970-01-01 was a Thursday: UTC weekday of an epoch day is (day + 3) % 7, Monday = 0.
_EPOCH_WEEKDAY = 3


@dataclass(frozen=True, slots=True)
class MarketCalendar:
    """When a market trades. Build one with `market_calendar` or `resolve_calendar`."""

    name: str
    """`crypto`, `fx` or an exchange code such as `XNYS`."""
    kind: CalendarKind
    timezone: str
    """The market's time zone (IANA name); a daily bar is the session of that date."""
    days_per_year: float
    """Trading days (sessions) in a year: 365 (crypto), 260 (fx), the exchange's (252 XNYS)."""
    day_seconds: float
    """Trading seconds in such a day: 24 h, or the exchange's typical session (6.5 h XNYS)."""

    @property
    def year_days(self) -> float:
        """Days of elapsed time in a year, for CAGR: 365 for crypto (as its periods per year
        always counted), 365.25 (the mean calendar year) for the others."""
        return 365.0 if self.kind == "crypto" else 365.25

    def periods_per_year(self, timeframe: str) -> float:
        """Bars of `timeframe` in a year: trading days for daily bars, trading time / bar
        length for intraday ones."""
        frame = Timeframe.parse(timeframe)
        if frame.per_year is not None:  # weeks and months: as many on any calendar
            return frame.per_year
        seconds = float(frame.seconds)
        if self.kind == "equity":
            if seconds >= _DAY_S:
                return self.days_per_year * _DAY_S / seconds
            return self.days_per_year * self.day_seconds / seconds
        # Written as it always was for 24/7 (the same float, so crypto figures are unchanged).
        return self.days_per_year * _DAY_S / seconds

    def expected_opens(self, first_ns: int, last_ns: int, timeframe: str) -> npt.NDArray[np.int64]:
        """Opening times (int64 ns, on the timeframe's UTC grid) of every bar the market should
        have from `first_ns` to `last_ns` inclusive: what a gap report measures against."""
        bar_ns = Timeframe.parse(timeframe).seconds * 1_000_000_000
        lo = -(-first_ns // bar_ns) * bar_ns
        grid = np.arange(lo, last_ns + 1, bar_ns, dtype=np.int64)
        if self.kind == "crypto":
            return grid
        if self.kind == "fx":
            return grid[_fx_open(grid, bar_ns)]
        return self._session_bars(grid, bar_ns)

    def session_last(self, opened_at_ns: npt.ArrayLike, timeframe: str) -> npt.NDArray[np.bool_]:
        """True for each bar (opening times, oldest first) that is the last of its trading
        session: the next bar belongs to a later session, or (the series' last bar) it reaches
        the session's close. A session is an exchange's trading day (every daily or longer bar
        is one), the FX week (Sunday 17:00 to Friday 17:00 New York, taken as 22:00 UTC as in
        `expected_opens`); crypto trades 24/7 and has no session close: all False."""
        times = np.asarray(opened_at_ns, dtype=np.int64)
        bar_ns = Timeframe.parse(timeframe).seconds * 1_000_000_000
        if self.kind == "crypto" or len(times) == 0:
            return np.zeros(len(times), dtype=np.bool_)
        if self.kind == "fx":
            week_ns = 7 * _DAY_NS
            # Weeks counted from Sunday 22:00 UTC (Monday 00:00 is 3 days before the epoch's
            # Thursday, minus the 2 hours the week opens before it).
            start = (_EPOCH_WEEKDAY * _DAY_NS + 2 * 3_600_000_000_000) % week_ns
            session = (times + start) // week_ns
            ends = session * week_ns - start + 5 * _DAY_NS  # Friday 22:00 UTC
        elif bar_ns >= _DAY_NS:
            return np.ones(len(times), dtype=np.bool_)
        else:
            closes = self._session_closes(int(times[0]), int(times[-1]))
            session = np.searchsorted(closes, times, side="right")
            padded = np.append(closes, np.iinfo(np.int64).max)
            ends = padded[session]
        last = np.empty(len(times), dtype=np.bool_)
        last[:-1] = session[1:] != session[:-1]
        last[-1] = times[-1] + bar_ns >= ends[-1]
        return last

    def _session_closes(self, first_ns: int, last_ns: int) -> npt.NDArray[np.int64]:
        """Closing instants (int64 ns UTC, sorted) of the exchange's sessions from the day
        before `first_ns` to the day after `last_ns`."""
        first = np.datetime64(first_ns - _DAY_NS, "ns").astype("datetime64[D]")
        last = np.datetime64(last_ns + _DAY_NS, "ns").astype("datetime64[D]")
        calendar = _exchange(self.name, (f"{str(first)[:4]}-01-01", None))
        lo = max(first, calendar.first_session.to_datetime64().astype("datetime64[D]"))
        hi = min(last, calendar.last_session.to_datetime64().astype("datetime64[D]"))
        if hi < lo:
            return np.zeros(0, dtype=np.int64)
        sessions = calendar.sessions_in_range(str(lo), str(hi))
        closes: npt.NDArray[np.int64] = (
            calendar.closes.loc[sessions]
            .dt.tz_convert(None)
            .to_numpy("datetime64[ns]")
            .astype(np.int64)
        )
        return closes

    def _session_bars(self, grid: npt.NDArray[np.int64], bar_ns: int) -> npt.NDArray[np.int64]:
        if len(grid) == 0:
            return grid
        first = np.datetime64(int(grid[0]), "ns").astype("datetime64[D]")
        last = np.datetime64(int(grid[-1]), "ns").astype("datetime64[D]")
        # Built from the first bar's year on (cached per year): the library's default range
        # starts 20 years ago. Dates the calendar cannot cover are clamped to its range.
        calendar = _exchange(self.name, (f"{str(first)[:4]}-01-01", None))
        lo = max(first, calendar.first_session.to_datetime64().astype("datetime64[D]"))
        hi = min(last, calendar.last_session.to_datetime64().astype("datetime64[D]"))
        if hi < lo:
            return grid[:0]
        sessions = calendar.sessions_in_range(str(lo), str(hi))
        if bar_ns >= _DAY_NS:  # a daily bar opens at its session's date, 00:00 UTC
            days = sessions.values.astype("datetime64[D]").astype(np.int64) * _DAY_NS
            return grid[np.isin(grid, days)]
        opens, closes = (
            edge.loc[sessions].dt.tz_convert(None).to_numpy("datetime64[ns]").astype(np.int64)
            for edge in (calendar.opens, calendar.closes)
        )
        # A bar is expected when it overlaps a session: it opens before the close and closes
        # after the open.
        at = np.searchsorted(closes, grid, side="right")
        inside = at < len(opens)
        ok = np.zeros(len(grid), dtype=bool)
        ok[inside] = grid[inside] + bar_ns > opens[at[inside]]
        return grid[ok]


def _fx_open(grid: npt.NDArray[np.int64], bar_ns: int) -> npt.NDArray[np.bool_]:
    """Bars overlapping the FX week, Sunday 17:00 to Friday 17:00 New York (22:00 UTC in
    winter, 21:00 in summer; 22:00 is used, which a summer Friday's last hour misses)."""
    if bar_ns >= _DAY_NS:  # daily FX bars: one per weekday
        weekday = (grid // _DAY_NS + _EPOCH_WEEKDAY) % 7
        return weekday < 5
    week_ns = 7 * _DAY_NS
    # Offset in the week from Monday 00:00 UTC; the market is shut Friday 22:00 .. Sunday 22:00.
    offset = (grid + _EPOCH_WEEKDAY * _DAY_NS) % week_ns
    shut_from, shut_to = 4 * _DAY_NS + 22 * 3_600_000_000_000, 6 * _DAY_NS + 22 * 3_600_000_000_000
    return ~((offset >= shut_from) & (offset + bar_ns <= shut_to))


@cache
def _exchange(code: str, span: tuple[str, str | None]) -> Any:
    """The exchange_calendars calendar over `span` (start, end or None for the default end)."""
    import exchange_calendars as xcals  # slow to import: only where an exchange is used

    with warnings.catch_warnings():
        # exchange_calendars 4.x reads tz-aware `Series.values`, which pandas 3 deprecates.
        warnings.filterwarnings("ignore", message="Series.values returning")
        try:
            return xcals.get_calendar(code, start=span[0], end=span[1])
        except ValueError:  # a span the calendar cannot cover: its own default range
            return xcals.get_calendar(code)


def calendar_names() -> list[str]:
    """Every calendar name `market_calendar` accepts: `crypto`, `fx`, then exchange codes."""
    import exchange_calendars as xcals

    return ["crypto", "fx", *sorted(xcals.get_calendar_names(include_aliases=False))]


@cache
def market_calendar(name: str) -> MarketCalendar:
    """The calendar called `name` (`crypto`, `fx` or an exchange code, case-insensitive);
    `ValueError` naming the choices for an unknown one."""
    key = _ALIASES.get(name.strip(), name.strip())
    if key.lower() == "crypto":
        return MarketCalendar("crypto", "crypto", "UTC", 365.0, float(_DAY_S))
    if key.lower() == "fx":
        return MarketCalendar("fx", "fx", "America/New_York", 260.0, float(_DAY_S))
    import exchange_calendars as xcals

    code = key.upper()
    try:
        calendar = _exchange(code, _REFERENCE)
    except xcals.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown calendar {name!r}; choose crypto, fx or an exchange code such as XNYS, "
            "XLON, XTKS (exchange_calendars names)"
        ) from None
    sessions = calendar.sessions
    years = (sessions[-1] - sessions[0]).days / 365.25
    lengths = (calendar.closes - calendar.opens).dt.total_seconds()
    return MarketCalendar(
        code,
        "equity",
        str(calendar.tz),
        float(round(len(sessions) / years)),
        float(lengths.median()),
    )


def known_calendar(name: str, *, field: str = "calendar") -> str:
    """The canonical name of calendar `name`, or `InvalidRequest` naming `field`."""
    try:
        return market_calendar(name).name
    except ValueError as exc:
        raise InvalidRequest(str(exc), field=field) from None


def infer_calendar(opened_at_ns: npt.ArrayLike, timeframe: str) -> MarketCalendar:
    """The calendar a series' spacing suggests (`opened_at_ns` oldest first, as bars are kept).

    A series that spans a whole UTC Saturday yet holds no bar on it closes on weekends: daily
    bars then mean an exchange (XNYS; `fx` when Sunday bars open the week), intraday bars that
    cover 20 h or more of some weekday mean `fx`, shorter days an exchange (XNYS). Anything
    else, a series too short to tell included, is `crypto` (24/7).
    """
    times = np.asarray(opened_at_ns, dtype=np.int64)
    if len(times) < 2 or Timeframe.parse(timeframe).per_year is not None:
        return market_calendar("crypto")  # too short to tell, or weeks/months: no sessions
    days = times // _DAY_NS
    saturdays = np.arange(days[0] + 1, days[-1])  # whole days strictly inside the span
    saturdays = saturdays[(saturdays + _EPOCH_WEEKDAY) % 7 == 5]
    # Bars come oldest first, so their days are sorted: a binary search per Saturday (a sort
    # of a million-bar series, as `np.isin` does, would cost more than the backtest's metrics).
    found = np.searchsorted(days, saturdays)
    on_saturday = days[np.minimum(found, len(days) - 1)] == saturdays
    if len(saturdays) == 0 or bool(on_saturday.any()):
        return market_calendar("crypto")
    bar_s = Timeframe.parse(timeframe).seconds
    if bar_s >= _DAY_S:
        weekday = (days + _EPOCH_WEEKDAY) % 7
        return market_calendar("fx" if bool((weekday == 6).any()) else "XNYS")
    per_day = np.bincount(days - days[0])
    return market_calendar("fx" if per_day.max() * bar_s >= 20 * 3600 else "XNYS")


def missing_opens(
    opened_at_ns: npt.ArrayLike, timeframe: str, calendar: MarketCalendar
) -> npt.NDArray[np.int64]:
    """Opening times (int64 ns, sorted) of the bars `calendar` expects between the series'
    first and last bar that the series lacks: its gaps, weekends and holidays excluded."""
    times = np.asarray(opened_at_ns, dtype=np.int64)
    if len(times) == 0:
        return times
    expected = calendar.expected_opens(int(times.min()), int(times.max()), timeframe)
    return np.setdiff1d(expected, times, assume_unique=True)


def resolve_calendar(
    name: str | None, opened_at_ns: npt.ArrayLike, timeframe: str
) -> MarketCalendar:
    """`market_calendar(name)` when a name is given, else `infer_calendar` on the bars."""
    if name is not None:
        return market_calendar(name)
    return infer_calendar(opened_at_ns, timeframe)

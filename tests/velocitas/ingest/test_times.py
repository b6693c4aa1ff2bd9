"""The time column read with a strptime format, and session dates, against Python's own
reading of the same values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from velocitas.ingest.problems import ProblemLog
from velocitas.ingest.times import parse_opened_at, parse_zone


def _read(
    values: Sequence[str | None],
    *,
    tz: str | None = None,
    time_format: str | None = None,
    session_dates: bool = False,
) -> tuple[list[int | None], list[str]]:
    """Epoch microseconds per value (None where refused) and the problems, as listed."""
    problems = ProblemLog(len(values), {})
    micros, ok = parse_opened_at(
        pa.array(list(values), type=pa.string()),
        parse_zone(tz),
        "t",
        problems,
        time_format=time_format,
        session_dates=session_dates,
    )
    read = [int(m) if good else None for m, good in zip(micros, ok, strict=True)]
    return read, [str(p) for p in problems.first()]


def _micros(moment: datetime) -> int:
    return round((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("time_format", "values"),
    [
        # Dukascopy: Arrow has no %f, so the fraction is split off (vectorised path)
        ("%d.%m.%Y %H:%M:%S.%f", ["01.01.2017 22:00:00.000", "01.01.2017 22:00:00.5"]),
        ("%d.%m.%Y %H:%M:%S.%f", ["01.01.2017 22:00:00.123456", " 2.1.2017 23:59:59.9 "]),
        ("%Y%m%d %H%M%S", ["20170101 220000", "20170102 000000"]),
        ("%m/%d/%Y %I:%M %p", ["01/01/2017 10:00 PM", "01/02/2017 12:30 AM"]),  # row by row
    ],
)
def test_time_format_reads_as_python_strptime(time_format: str, values: list[str]) -> None:
    read, problems = _read(values, time_format=time_format, tz="UTC")
    expected = [
        _micros(datetime.strptime(v.strip(), time_format).replace(tzinfo=UTC)) for v in values
    ]
    assert (read, problems) == (expected, [])


def test_time_format_with_offset_needs_no_tz() -> None:
    read, problems = _read(["2017-01-01 22:00:00+0100"], time_format="%Y-%m-%d %H:%M:%S%z")
    assert (read, problems) == ([_micros(datetime(2017, 1, 1, 21, tzinfo=UTC))], [])


def test_time_format_refuses_missing_and_unmatched_rows_by_name() -> None:
    read, problems = _read(["01.01.2017", None, "2017-01-02"], time_format="%d.%m.%Y", tz="UTC")
    assert read[1:] == [None, None]
    assert problems == [
        "row 2, column t: missing time",
        "row 3, column t: '2017-01-02' does not match the time format '%d.%m.%Y'",
    ]


def test_session_dates_are_the_day_at_utc_midnight_in_any_zone() -> None:
    values = ["2024-03-31", "2024-04-01 00:00:00"]
    expected = [
        _micros(datetime(2024, 3, 31, tzinfo=UTC)),
        _micros(datetime(2024, 4, 1, tzinfo=UTC)),
    ]
    for tz in (None, "Europe/Berlin", "America/New_York"):
        assert _read(values, session_dates=True, tz=tz) == (expected, [])
    # not on daily bars: a date without a zone is refused as before
    assert _read(values[:1])[0] == [None]

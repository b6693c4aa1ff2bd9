"""The one duration grammar (both old ones: the walk-forward's and the analyst's) and the one
ISO-8601 instant reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from velocitas.errors import InvalidRequest
from velocitas.timeparse import EARLIEST, LATEST, LONGEST, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the walk-forward's grammar: whole numbers of m, h, d, w, spaces around and between
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        (" 30 D ", timedelta(days=30)),
        # the analyst's grammar: also seconds and decimals
        ("90s", timedelta(seconds=90)),
        ("1.5d", timedelta(hours=36)),
        ("3d", timedelta(days=3)),
        ("\t15m\n", timedelta(minutes=15)),
    ],
)
def test_parse_duration_reads_both_old_grammars(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_parse_duration_reads_months_and_years_as_calendar_months() -> None:
    assert (parse_duration("6mo").months, parse_duration("2y").months) == (6, 24)
    assert parse_duration(" 6 MO ").months == 6
    assert parse_duration("3d").months == 0
    jan_31 = datetime(2005, 1, 31, tzinfo=UTC)
    assert parse_duration("6mo").after(jan_31) == datetime(2005, 7, 31, tzinfo=UTC)
    assert parse_duration("1mo").after(jan_31) == datetime(2005, 2, 28, tzinfo=UTC)
    assert parse_duration("1mo").after(jan_31, 13) == datetime(2006, 2, 28, tzinfo=UTC)
    assert parse_duration("2y").before(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2022, 2, 28, tzinfo=UTC
    )
    # Where a fixed length is needed, a month counts 365.25 / 12 days.
    assert parse_duration("1y") == timedelta(days=365.25)


@pytest.mark.parametrize("text", ["6M", " 6 M ", "1.5M"])
def test_parse_duration_refuses_capital_m_naming_minutes_and_months(text: str) -> None:
    with pytest.raises(
        InvalidRequest, match=r"ambiguous: write \S+m for .* minutes or \S+mo"
    ) as no:
        parse_duration(text, field="out_of_sample")
    assert no.value.field == "out_of_sample"


@pytest.mark.parametrize(
    "text",
    [
        "1.5mo",
        "0y",
        "",
        "d",
        "3",
        "0d",
        "0.0h",
        "-1d",
        "3 days",
        "12 parsecs",
        "1e3d",
        "9" * 15 + "w",
    ],
)
def test_parse_duration_refuses_anything_else_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_duration(text, field="in_sample")
    assert refused.value.field == "in_sample"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (" 2024-01-02 03:04 ", datetime(2024, 1, 2, 3, 4, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        (
            "2024-01-02T03:04:05+01:00",
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_parse_instant_reads_iso_8601_naive_as_utc(text: str, expected: datetime) -> None:
    moment = parse_instant(text, field="start")
    assert moment == expected
    assert moment.utcoffset() == expected.utcoffset()


def test_parse_instant_reads_naive_in_the_zone_given_or_refuses_it() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_instant("2024-01-02T03:04", field="at", naive=berlin) == datetime(
        2024, 1, 2, 2, 4, tzinfo=UTC
    )
    with pytest.raises(InvalidRequest, match="time zone") as refused:
        parse_instant("2024-01-02T03:04", field="at", naive=None)
    assert refused.value.field == "at"
    assert parse_instant("2024-01-02T03:04Z", field="at", naive=None).tzinfo is not None


@pytest.mark.parametrize("text", ["", "soon", "2024-13-01", "01/02/2024"])
def test_parse_instant_refuses_non_iso_text_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_instant(text, field="end")
    assert refused.value.field == "end"


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00Z", "0999-12-31T23:59:59Z", "9000-01-01", "9999-12-31T23:59:59-23:00"],
)
def test_parse_instant_refuses_instants_that_shifting_could_overflow(text: str) -> None:
    with pytest.raises(InvalidRequest, match="outside the instants accepted") as refused:
        parse_instant(text, field="at")
    assert refused.value.field == "at"


def test_instants_at_the_bounds_moved_by_the_longest_duration_stay_in_the_calendar() -> None:
    longest = parse_duration("500y")
    assert longest <= LONGEST
    assert longest.before(EARLIEST).year >= 1
    assert longest.after(LATEST - timedelta(microseconds=1)).year <= 9999
    assert datetime.min.replace(tzinfo=UTC) <= EARLIEST - LONGEST


def test_parse_duration_refuses_more_than_500_years() -> None:
    with pytest.raises(InvalidRequest, match="at most 500 years") as refused:
        parse_duration("501y", field="window")
    assert refused.value.field == "window"

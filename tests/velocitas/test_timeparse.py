"""The one duration grammar (both old ones: the walk-forward's and the analyst's) and the one
ISO-8601 instant reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from velocitas.errors import InvalidRequest
from velocitas.timeparse import parse_duration, parse_instant


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
        ("\t15M\n", timedelta(minutes=15)),
    ],
)
def test_parse_duration_reads_both_old_grammars(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "d", "3", "0d", "0.0h", "-1d", "3 days", "12 parsecs", "1e3d", "9" * 15 + "w"]
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

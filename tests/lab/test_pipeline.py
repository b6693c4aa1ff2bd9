"""lab.pipeline.Window: START:END parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lab.pipeline import Window
from velocitas.errors import InvalidRequest


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (
            "2024-01-01:2024-06-01",
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 6, 1, tzinfo=UTC),
        ),
        (
            "2024-01-01T12:30:00Z:2024-01-02T00:00:00+00:00",
            datetime(2024, 1, 1, 12, 30, tzinfo=UTC),
            datetime(2024, 1, 2, tzinfo=UTC),
        ),
        (
            "2024-01-01T00:00:00+02:00:2024-01-01T06:00",
            datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            datetime(2024, 1, 1, 6, tzinfo=UTC),
        ),
    ],
)
def test_window_parse_accepts_dates_and_instants(text: str, start: datetime, end: datetime) -> None:
    window = Window.parse(text, "train")
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize("text", ["2024-01-01", "2024-06-01:2024-01-01", "jan:feb", ""])
def test_window_parse_bad_input_names_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        Window.parse(text, "validate")
    assert excinfo.value.field == "validate"


def test_window_overlaps_is_half_open() -> None:
    a = Window.parse("2024-01-01:2024-02-01", "a")
    assert not a.overlaps(Window.parse("2024-02-01:2024-03-01", "b"))
    assert a.overlaps(Window.parse("2024-01-31:2024-03-01", "b"))

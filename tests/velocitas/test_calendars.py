"""Market calendars: names, periods per year, and inference from a series' spacing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.velocitas.engine.market import gbm_bars
from velocitas.calendars import infer_calendar, known_calendar, market_calendar
from velocitas.errors import InvalidRequest

backtesting_test = pytest.importorskip("backtesting.test")


def _times(frame: object) -> np.ndarray:
    return frame.index.values.astype("datetime64[ns]").astype(np.int64)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "kind", "timeframe", "per_year"),
    [
        ("crypto", "crypto", "1h", 8760.0),
        ("crypto_24_7", "crypto", "1d", 365.0),
        ("fx", "fx", "1h", 6240.0),
        ("XNYS", "equity", "1d", 252.0),
        ("xnys", "equity", "1h", 1638.0),
        ("exchange", "equity", "1m", 98280.0),
    ],
)
def test_market_calendar_periods_per_year(
    name: str, kind: str, timeframe: str, per_year: float
) -> None:
    calendar = market_calendar(name)
    assert calendar.kind == kind
    assert calendar.periods_per_year(timeframe) == per_year


def test_market_calendar_exchange_time_zone() -> None:
    assert market_calendar("XLON").timezone == "Europe/London"


def test_unknown_calendar_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRequest, match="XNYS") as caught:
        known_calendar("NASDAQ-ISH")
    assert caught.value.field == "calendar"


def test_infer_calendar_from_spacing() -> None:
    assert infer_calendar(_times(backtesting_test.GOOG), "1d").name == "XNYS"
    assert infer_calendar(_times(backtesting_test.EURUSD), "1h").name == "fx"
    assert infer_calendar(gbm_bars(20_000).opened_at, "1m").name == "crypto"
    # Two weekdays cannot tell a weekend market from a 24/7 one: crypto, as before.
    assert infer_calendar(_times(backtesting_test.EURUSD)[:40], "1h").name == "crypto"

"""velocitas.metrics: hand-computed examples, edge cases, and a cross-check against plain pandas."""

from __future__ import annotations

import json
import math
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocitas import metrics
from velocitas.metrics import METRIC_KEYS, compute_metrics

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9


def _days(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * DAY_NS


# Daily equity 100 → 110 → 99 → 118.8: returns +10 %, −10 %, +20 %.
EQUITY = np.array([100.0, 110.0, 99.0, 118.8])
R = (0.1, -0.1, 0.2)
MEAN = sum(R) / 3
STD = math.sqrt(sum((r - MEAN) ** 2 for r in R) / 2)
DOWNSIDE = math.sqrt((0.0 + 0.1**2 + 0.0) / 3)


@pytest.mark.parametrize(
    ("timeframe", "calendar", "expected"),
    [
        ("1m", "crypto_24_7", 365 * 24 * 60),
        ("1h", "crypto_24_7", 365 * 24),
        ("1d", "crypto_24_7", 365),
        ("1m", "exchange", 252 * 6.5 * 60),
        ("5m", "exchange", 252 * 6.5 * 12),
        ("1h", "exchange", 252 * 6.5),
        ("1d", "exchange", 252),
    ],
)
def test_periods_per_year(timeframe: str, calendar: metrics.Calendar, expected: float) -> None:
    assert metrics.periods_per_year(timeframe, calendar) == pytest.approx(expected, rel=1e-15)


def test_periods_per_year_unknown_calendar() -> None:
    with pytest.raises(ValueError, match="calendar"):
        metrics.periods_per_year("1d", "lunar")  # type: ignore[arg-type]


def test_period_returns_hand_computed() -> None:
    np.testing.assert_allclose(metrics.period_returns(EQUITY), R)
    np.testing.assert_allclose(metrics.period_returns(EQUITY, 80.0), (0.25, *R))


def test_return_ratios_hand_computed() -> None:
    assert metrics.total_return(EQUITY) == pytest.approx(0.188)
    assert metrics.annualised_volatility(EQUITY, 365) == pytest.approx(STD * math.sqrt(365))
    assert metrics.sharpe_ratio(EQUITY, 365) == pytest.approx(MEAN / STD * math.sqrt(365))
    assert metrics.sortino_ratio(EQUITY, 365) == pytest.approx(MEAN / DOWNSIDE * math.sqrt(365))
    # three daily periods: years = 3 / 365
    assert metrics.cagr(EQUITY, 365) == pytest.approx(1.188 ** (365 / 3) - 1)
    assert metrics.cagr(EQUITY, 365, initial_equity=100.0) == pytest.approx(1.188 ** (365 / 4) - 1)


def test_sharpe_with_risk_free_rate_hand_computed() -> None:
    rf = 1.05 ** (1 / 365) - 1  # 5 % a year, per day
    expected = (MEAN - rf) / STD * math.sqrt(365)
    assert metrics.sharpe_ratio(EQUITY, 365, risk_free_rate=0.05) == pytest.approx(expected)
    down = math.sqrt(sum(min(r - rf, 0.0) ** 2 for r in R) / 3)
    expected_sortino = (MEAN - rf) / down * math.sqrt(365)
    assert metrics.sortino_ratio(EQUITY, 365, risk_free_rate=0.05) == pytest.approx(
        expected_sortino
    )


def test_max_drawdown_and_duration_hand_computed() -> None:
    # 110 → 99 is −10 %; under water from bar 1 until bar 3 (118.8 >= 110): 2 bars, 2 days.
    assert metrics.max_drawdown(EQUITY) == pytest.approx(0.1)
    assert metrics.drawdown_duration(EQUITY, _days(4), "1d") == (2, 2 * 86_400)


def test_drawdown_duration_is_the_longest_not_the_deepest() -> None:
    # −10 % for 2 bars (0 → 2), then −4 % for 5 bars (3 → 8)
    equity = np.array([100.0, 90.0, 100.0, 100.0, 99.0, 98.0, 97.0, 96.0, 101.0])
    assert metrics.max_drawdown(equity) == pytest.approx(0.1)
    assert metrics.drawdown_duration(equity, _days(9), "1d") == (5, 5 * 86_400)


def test_drawdown_unrecovered_runs_to_the_end() -> None:
    equity = np.array([100.0, 120.0, 110.0, 100.0])
    assert metrics.max_drawdown(equity) == pytest.approx(1 - 100 / 120)
    assert metrics.drawdown_duration(equity, _days(4), "1d") == (2, 2 * 86_400)


def test_drawdown_duration_seconds_follow_the_clock() -> None:
    # hourly bars with a 2-day gap between bars 1 and 2 (a weekend): 2 bars but 50 hours
    opened_at = np.array([0, 1, 50, 51], dtype=np.int64) * HOUR_NS
    equity = np.array([100.0, 90.0, 95.0, 100.0])
    assert metrics.drawdown_duration(equity, opened_at, "1h") == (3, 51 * 3_600)


def test_drawdown_from_the_initial_equity() -> None:
    # a fee at bar 0 puts the run under water from the start (bar 0's open) until bar 1's close
    equity = np.array([99.9, 100.5, 101.0])
    assert metrics.max_drawdown(equity, initial_equity=100.0) == pytest.approx(0.001)
    assert metrics.drawdown_duration(equity, _days(3), "1d", initial_equity=100.0) == (
        2,
        2 * 86_400,
    )


# Trades: two wins, a loss, a scratch, three losses, a win.
PNLS = np.array([10.0, 20.0, -5.0, 0.0, -5.0, -5.0, -5.0, 15.0])


def test_trade_statistics_hand_computed() -> None:
    assert metrics.win_rate(PNLS) == 3 / 8
    assert metrics.profit_factor(PNLS) == (10 + 20 + 15) / 20
    assert metrics.expectancy(PNLS) == 25 / 8
    mean = 25 / 8
    std = math.sqrt(sum((p - mean) ** 2 for p in PNLS) / 7)
    assert metrics.sqn(PNLS) == pytest.approx(math.sqrt(8) * mean / std)
    assert metrics.streaks(PNLS) == (2, 3)  # the scratch trade breaks the losing run


def test_calmar_and_buy_and_hold_hand_computed() -> None:
    assert metrics.calmar_ratio(0.3, 0.15) == pytest.approx(2.0)
    assert metrics.calmar_ratio(0.3, 0.0) is None
    assert metrics.calmar_ratio(None, 0.2) is None
    assert metrics.buy_and_hold_return(np.array([50.0, 40.0, 60.0])) == pytest.approx(0.2)


def test_compute_metrics_hand_computed_report() -> None:
    report = compute_metrics(
        EQUITY,
        _days(4),
        PNLS,
        np.array([0.1, 0.2, -0.05, 0.0, -0.05, -0.05, -0.05, 0.15]),
        timeframe="1d",
        fees_paid=Decimal("1.25"),
        exposure_bars=3,
        benchmark_close=np.array([10.0, 11.0, 12.0, 12.5]),
    )
    assert tuple(report) == METRIC_KEYS
    cagr = 1.188 ** (365 / 3) - 1
    expected = {
        "total_return": 0.188,
        "cagr": cagr,
        "annualised_volatility": STD * math.sqrt(365),
        "sharpe": MEAN / STD * math.sqrt(365),
        "sortino": MEAN / DOWNSIDE * math.sqrt(365),
        "calmar": cagr / 0.1,
        "max_drawdown": 0.1,
        "max_drawdown_duration_bars": 2,
        "max_drawdown_duration_s": 172_800,
        "trade_count": 8,
        "win_rate": 0.375,
        "profit_factor": 2.25,
        "expectancy": 3.125,
        "sqn": metrics.sqn(PNLS),
        "avg_trade": 3.125,
        "best_trade": 20.0,
        "worst_trade": -5.0,
        "avg_trade_return": 0.03125,
        "best_trade_return": 0.2,
        "worst_trade_return": -0.05,
        "longest_win_streak": 2,
        "longest_loss_streak": 3,
        "exposure": 0.75,
        "fees_paid": 1.25,
        "buy_and_hold_return": 0.25,
        "bars": 4,
        "periods_per_year": 365.0,
        "risk_free_rate": 0.0,
    }
    assert report == pytest.approx(expected, rel=1e-12)


def _assert_json_ready(report: dict[str, float | int | None]) -> None:
    assert tuple(report) == METRIC_KEYS
    for key, value in report.items():
        assert type(value) in (float, int, type(None)), key
        assert value is None or math.isfinite(value), key
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def _quietly(*args: object, **kwargs: object) -> dict[str, float | int | None]:
    # every floating-point event raises, except underflow (numpy's default too: a tiny number
    # rounding to zero is not an error)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        return compute_metrics(*args, **kwargs)  # type: ignore[arg-type]


def test_compute_metrics_no_trades() -> None:
    report = _quietly(EQUITY, _days(4), np.empty(0), timeframe="1d")
    _assert_json_ready(report)
    assert report["trade_count"] == 0
    assert report["longest_win_streak"] == report["longest_loss_streak"] == 0
    for key in ("win_rate", "profit_factor", "expectancy", "sqn", "avg_trade", "best_trade"):
        assert report[key] is None
    assert report["avg_trade_return"] is None  # no trade returns given
    assert report["buy_and_hold_return"] is None  # no benchmark given


def test_compute_metrics_flat_equity() -> None:
    report = _quietly(np.full(10, 1_000.0), _days(10), np.empty(0), timeframe="1d")
    _assert_json_ready(report)
    assert report["total_return"] == 0.0
    assert report["cagr"] == 0.0
    assert report["annualised_volatility"] == 0.0
    assert report["sharpe"] is None  # undefined (0 / 0), documented as None
    assert report["sortino"] is None
    assert report["max_drawdown"] == 0.0
    assert report["calmar"] is None
    assert report["max_drawdown_duration_bars"] == 0


def test_compute_metrics_single_bar() -> None:
    report = _quietly(np.array([1_000.0]), _days(1), np.empty(0), timeframe="1d")
    _assert_json_ready(report)
    assert report["bars"] == 1
    assert report["total_return"] == 0.0
    assert report["cagr"] is None
    assert report["sharpe"] is None
    assert report["annualised_volatility"] is None


def test_compute_metrics_single_bar_with_initial_equity() -> None:
    report = _quietly(
        np.array([990.0]), _days(1), np.array([-10.0]), timeframe="1d", initial_equity=1_000.0
    )
    _assert_json_ready(report)
    assert report["total_return"] == pytest.approx(-0.01)
    assert report["cagr"] == pytest.approx(0.99**365 - 1)
    assert report["sharpe"] is None  # one return has no standard deviation
    assert report["max_drawdown"] == pytest.approx(0.01)
    assert report["profit_factor"] == 0.0  # no win, one loss: 0 / 10
    assert report["win_rate"] == 0.0


def test_compute_metrics_blown_account() -> None:
    equity = np.array([100.0, 50.0, 0.0, 0.0, -10.0])
    report = _quietly(equity, _days(5), np.array([-110.0]), timeframe="1d")
    _assert_json_ready(report)
    assert report["total_return"] == pytest.approx(-1.1)
    assert report["cagr"] == -1.0
    assert report["max_drawdown"] == pytest.approx(1.1)
    # returns after equity reached 0 are undefined and left out: −50 %, −100 %
    assert report["sharpe"] == pytest.approx(-0.75 / math.sqrt(0.125) * math.sqrt(365))


def test_compute_metrics_only_winners() -> None:
    report = _quietly(EQUITY, _days(4), np.array([5.0, 1.0]), timeframe="1d")
    assert report["profit_factor"] is None
    assert report["win_rate"] == 1.0
    assert report["longest_win_streak"] == 2


def test_compute_metrics_cagr_overflow_is_none() -> None:
    # +50 % in one minute, annualised over 525 600 minutes, is beyond a float
    report = _quietly(
        np.array([100.0, 150.0]), np.array([0, 60 * 10**9]), np.empty(0), timeframe="1m"
    )
    assert report["cagr"] is None
    assert report["calmar"] is None


def test_compute_metrics_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        compute_metrics(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0), timeframe="1d")
    with pytest.raises(ValueError, match="opened_at_ns"):
        compute_metrics(EQUITY, _days(3), np.empty(0), timeframe="1d")
    with pytest.raises(ValueError, match="positive"):
        compute_metrics(EQUITY, _days(4), np.empty(0), timeframe="1d", initial_equity=0)
    with pytest.raises(ValueError, match="timeframe"):
        compute_metrics(EQUITY, _days(4), np.empty(0), timeframe="2d")


def test_compute_metrics_is_deterministic() -> None:
    rng = np.random.default_rng(5)
    equity = 1e4 * np.exp(np.cumsum(rng.normal(0, 0.01, 5_000)))
    first = compute_metrics(equity, _days(5_000), rng.normal(0, 1, 50), timeframe="1d")
    again = compute_metrics(equity.copy(), _days(5_000), rng.normal(0, 1, 50), timeframe="1d")
    assert json.dumps({k: first[k] for k in METRIC_KEYS[:9]}) == json.dumps(
        {k: again[k] for k in METRIC_KEYS[:9]}
    )


# --- cross-check against a straightforward pandas implementation ---------------------------


def _pandas_reference(
    equity: np.ndarray, per_year: float, initial: float | None, rf: float
) -> dict[str, float]:
    values = pd.Series(equity if initial is None else np.r_[initial, equity])
    r = values.pct_change().dropna() - ((1 + rf) ** (1 / per_year) - 1)
    return {
        "sharpe": r.mean() / r.std() * math.sqrt(per_year),
        "sortino": r.mean() / math.sqrt((r.clip(upper=0) ** 2).mean()) * math.sqrt(per_year),
        "annualised_volatility": r.std() * math.sqrt(per_year),
        "max_drawdown": (1 - values / values.cummax()).max(),
    }


@pytest.mark.parametrize(
    ("timeframe", "calendar", "initial", "rf"),
    [
        ("1m", "crypto_24_7", None, 0.0),
        ("1h", "exchange", 10_000.0, 0.0),
        ("1d", "exchange", 9_000.0, 0.04),
    ],
)
def test_compute_metrics_matches_pandas(
    timeframe: str, calendar: metrics.Calendar, initial: float | None, rf: float
) -> None:
    rng = np.random.default_rng(42)
    n = 20_000
    steps = rng.normal(0.0002, 0.01, n)
    steps[rng.uniform(size=n) < 0.3] = 0.0  # flat stretches, as when out of the market
    equity = 10_000.0 * np.exp(np.cumsum(steps))
    report = compute_metrics(
        equity,
        np.arange(n, dtype=np.int64) * 60 * 10**9,
        np.empty(0),
        timeframe=timeframe,
        calendar=calendar,
        initial_equity=initial,
        risk_free_rate=rf,
    )
    reference = _pandas_reference(
        equity, metrics.periods_per_year(timeframe, calendar), initial, rf
    )
    for key, value in reference.items():
        assert report[key] == pytest.approx(value, rel=1e-9), key


def test_compute_metrics_accepts_decimal_ledger_values() -> None:
    pnls = [Decimal("10.5"), Decimal("-2.25")]
    report = compute_metrics(
        EQUITY,
        _days(4),
        pnls,
        timeframe="1d",
        initial_equity=Decimal("100"),
        fees_paid=Decimal("0.1"),
    )
    _assert_json_ready(report)
    assert report["expectancy"] == pytest.approx(4.125)
    assert report["profit_factor"] == pytest.approx(10.5 / 2.25)
    assert report["total_return"] == pytest.approx(0.188)


@given(
    equity=st.lists(st.floats(0.01, 1e9, allow_nan=False), min_size=1, max_size=60),
    pnls=st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=30),
    initial=st.one_of(st.none(), st.floats(0.01, 1e9)),
)
@settings(max_examples=200, deadline=None)
def test_compute_metrics_any_curve_is_json_ready_and_quiet(
    equity: list[float], pnls: list[float], initial: float | None
) -> None:
    curve = np.array(equity)
    report = _quietly(
        curve, _days(len(curve)), np.array(pnls), timeframe="1h", initial_equity=initial
    )
    _assert_json_ready(report)
    values = pd.Series(curve if initial is None else np.r_[initial, curve])
    assert report["max_drawdown"] == pytest.approx((1 - values / values.cummax()).max(), abs=1e-12)
    assert 0 <= report["max_drawdown_duration_bars"] <= len(values) - 1
    assert report["trade_count"] == len(pnls)

"""Option text to spec values: units, ATR stops, legs, parameters, errors naming the option."""

from __future__ import annotations

from decimal import Decimal

import pytest

from velocitas.errors import InvalidRequest
from velocitas_cli.backtest_spec import (
    build_spec,
    parse_bps,
    parse_leg,
    parse_params,
    parse_rate,
    parse_stop,
    spec_request,
)


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("2%", "0.02"), ("0.1%", "0.001"), ("15bps", "0.0015"), ("0.02", "0.02"), (" 50 % ", "0.5")],
)
def test_parse_rate_reads_percent_bps_and_fractions(text: str, fraction: str) -> None:
    assert parse_rate(text, "--fee") == Decimal(fraction)


@pytest.mark.parametrize(("text", "bps"), [("2bps", "2"), ("0.02%", "2"), ("0.0002", "2")])
def test_parse_bps_reads_bps_percent_and_fractions(text: str, bps: str) -> None:
    # A bare number is a fraction, as for every rate (it was basis points before).
    assert str(parse_bps(text, "--slippage")) == bps


def test_parse_stop_reads_percent_and_atr_multiples() -> None:
    assert parse_stop("2%", "--stop-loss", 14) == {"kind": "percent", "value": Decimal("0.02")}
    assert parse_stop("3ATR", "--stop-loss", 20) == {
        "kind": "atr",
        "value": Decimal(3),
        "atr_period": 20,
    }
    assert parse_stop(None, "--stop-loss", 14) is None


def test_parse_rate_refuses_text_naming_the_option() -> None:
    with pytest.raises(InvalidRequest, match="--max-drawdown 'lots' is not a number"):
        parse_rate("lots", "--max-drawdown")
    with pytest.raises(InvalidRequest, match="not a finite number"):
        parse_rate("nan%", "--fee")


def test_parse_params_reads_json_values_else_text() -> None:
    assert parse_params(["fast=10", "k=2.5", "allow_short=true", "name=abc"], "--param") == {
        "fast": 10,
        "k": 2.5,
        "allow_short": True,
        "name": "abc",
    }
    with pytest.raises(InvalidRequest, match="expected NAME=VALUE"):
        parse_params(["fast"], "--param")


def test_parse_leg_with_allow_short_turns_on_the_strategy_parameter() -> None:
    leg = parse_leg("ETH:ema_cross:fast=5,slow=30", allow_short=True)
    assert leg == {
        "symbol": "ETH",
        "strategy": {"name": "ema_cross", "params": {"fast": 5, "slow": 30, "allow_short": True}},
    }
    kept = parse_leg("ETH:ema_cross:allow_short=false", allow_short=True)
    assert kept["strategy"]["params"] == {"allow_short": False}
    assert parse_leg("ETH:buy_and_hold", allow_short=True)["strategy"]["params"] == {}


def test_build_spec_names_option_and_field_of_a_bound_violation() -> None:
    request = spec_request(
        symbol="X",
        strategy="sma_cross",
        params=[],
        legs=[],
        timeframe="1m",
        start="2024-01-01",
        end="2024-01-02",
        allow_short=False,
    )
    assert str(build_spec(request | {"initial_cash": 1}).start) == "2024-01-01 00:00:00+00:00"
    with pytest.raises(InvalidRequest, match=r"--max-drawdown \(risk.max_drawdown\)") as caught:
        build_spec(request | {"initial_cash": 1, "risk": {"max_drawdown": Decimal(2)}})
    assert caught.value.field == "risk.max_drawdown"


def test_execution_options_set_the_count_time_session_and_confidence_rules() -> None:
    from velocitas_cli.backtest_spec import ExecutionOptions

    base = spec_request(
        symbol="X", strategy="sma_cross", params=[], legs=[], timeframe="1m",
        start="2024-01-01", end="2024-01-02", allow_short=False,
    )  # fmt: skip
    options = ExecutionOptions(
        max_trades_per_day="5", max_open_positions=" 2", max_holding_bars="60",
        flat_at_session_close=True, min_confidence="60%",
    )  # fmt: skip
    risk = build_spec(base | options.request()).risk
    assert (risk.max_trades_per_day, risk.max_open_positions, risk.max_holding_bars) == (5, 2, 60)
    assert risk.flat_at_session_close
    assert risk.min_confidence == Decimal("0.6")
    bad = ExecutionOptions(max_holding_bars="0").request()
    with pytest.raises(InvalidRequest, match=r"--max-holding-bars \(risk.max_holding_bars\)"):
        build_spec(base | bad)
    with pytest.raises(InvalidRequest, match=r"--min-confidence \(risk.min_confidence\)"):
        build_spec(base | ExecutionOptions(min_confidence="150%").request())

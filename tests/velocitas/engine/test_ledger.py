"""The Decimal ledger agrees exactly with an independent recomputation from the raw fills."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.velocitas.engine.market import MINUTE_NS, START_NS, spec
from velocitas.domain.bars import BarArrays
from velocitas.engine import run_signals
from velocitas.engine.alignment import align
from velocitas.engine.codes import F_LOTS, F_PRICE, F_REASON, F_SIDE
from velocitas.engine.kernel import run_kernel
from velocitas.engine.runner import kernel_config, leg_keys

EIGHT_PLACES = Decimal("1e-8")
NO_ATR = np.zeros((1, 1))  # percent stops only: the kernel reads no ATR


@st.composite
def markets(draw: st.DrawFn) -> tuple[BarArrays, np.ndarray]:
    n = draw(st.integers(min_value=2, max_value=60))
    moves = draw(st.lists(st.floats(-0.08, 0.08), min_size=n, max_size=n))
    gaps = draw(st.lists(st.floats(-0.03, 0.03), min_size=n, max_size=n))
    wicks = draw(st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n))
    close = 50.0 * np.exp(np.cumsum(moves))
    open_ = np.concatenate([[50.0], close[:-1]]) * (1.0 + np.asarray(gaps))
    high = np.maximum(open_, close) * (1.0 + np.asarray(wicks))
    low = np.minimum(open_, close) * (1.0 - np.asarray(wicks) / 2)
    times = START_NS + MINUTE_NS * 97 * np.arange(n, dtype=np.int64)  # crosses UTC days
    bars = BarArrays("X", "1m", times, open_, high, low, close, np.ones(n))
    sides = np.asarray(draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n)))
    return bars, sides.astype(np.int8)


SETTINGS = st.fixed_dictionaries(
    {
        "fees": st.fixed_dictionaries(
            {
                "rate": st.sampled_from(["0", "0.001", "0.00075", "0.0025"]),
                "fixed": st.sampled_from(["0", "0.5", "1.25"]),
            }
        ),
        "slippage_bps": st.sampled_from(["0", "3", "12.5"]),
        "fill": st.sampled_from(["next_open", "same_close"]),
        "allow_short": st.booleans(),
        "sizing": st.sampled_from(
            [
                {"mode": "fraction_of_equity", "value": "1", "lot_size": "0.001"},
                {"mode": "fraction_of_equity", "value": "0.3", "lot_size": "0.00000001"},
                {"mode": "fixed_quantity", "value": "7.5", "lot_size": "0.5"},
                {"mode": "fixed_cash", "value": "2500", "lot_size": "0.01"},
            ]
        ),
        "stops": st.sampled_from(
            [
                {},
                {"stop_loss": {"kind": "percent", "value": "0.03"}},
                {
                    "stop_loss": {"kind": "percent", "value": "0.04"},
                    "take_profit": {"kind": "percent", "value": "0.05"},
                    "trailing_stop": {"kind": "percent", "value": "0.03"},
                    "intrabar_path": "adaptive",
                },
            ]
        ),
        "risk": st.sampled_from(
            [{}, {"max_drawdown": "0.15", "max_daily_loss": "0.05"}, {"max_position": "0.5"}]
        ),
    }
)


def _independent_final_equity(records: np.ndarray, overrides: dict[str, Any]) -> Decimal:
    """Cash after replaying raw kernel records by hand: no ledger code involved."""
    rate = Decimal(overrides["fees"]["rate"])
    fixed = Decimal(overrides["fees"]["fixed"])
    lot = Decimal(overrides["sizing"]["lot_size"])
    cash = Decimal(10_000)
    for row in records:
        price = Decimal(float(row[F_PRICE])).quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN)
        quantity = int(row[F_LOTS]) * lot
        fee = price * quantity * rate + fixed
        cash += -(price * quantity) * int(row[F_SIDE]) - fee
    return cash


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=markets(), overrides=SETTINGS)
def test_ledger_reconciles_exactly_with_an_independent_recomputation(
    market: tuple[BarArrays, np.ndarray], overrides: dict[str, Any]
) -> None:
    bars, sides = market
    run_spec = spec(("X",), **overrides)
    result = run_signals(run_spec, [bars], [sides])

    # 1. A flat book: final equity is the initial cash plus every trade's net P&L, exactly.
    assert result.final_equity == run_spec.initial_cash + sum(
        (t.net_pnl for t in result.trades), start=Decimal(0)
    )
    # 2. Replaying the kernel's raw records by hand gives the same money.
    grid = align([bars])
    records, _, _ = run_kernel(
        grid.open, grid.high, grid.low, grid.close, grid.has_bar, sides.reshape(-1, 1),
        grid.utc_day, NO_ATR, NO_ATR, NO_ATR, np.ones(1), kernel_config(run_spec),
        grid.opened_at, leg_keys(run_spec),
    )  # fmt: skip
    assert result.final_equity == _independent_final_equity(records, overrides)
    assert len(result.fills) == len(records)
    entries = [f for f, row in zip(result.fills, records, strict=True) if row[F_REASON] == 0]
    assert len(entries) == len(result.trades)
    for trade in result.trades:
        direction = 1 if trade.side == "long" else -1
        gross = direction * trade.quantity * (trade.exit_price - trade.entry_price)
        assert trade.gross_pnl == gross
        assert trade.net_pnl == gross - trade.fees
    # 3. The float equity curve ends within float noise of the exact final equity.
    assert abs(result.equity.equity[-1] - float(result.final_equity)) <= 1e-9 * float(
        run_spec.initial_cash
    )

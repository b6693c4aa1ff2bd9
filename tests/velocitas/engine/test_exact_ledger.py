"""The scaled-integer ledger equals a Decimal replay digit for digit, and hashes the same."""

from __future__ import annotations

import pickle
from decimal import Context, Decimal, Inexact, localcontext
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.velocitas.engine.market import MINUTE_NS, START_NS, gbm_bars, sma_cross, spec
from velocitas.engine import BacktestResult, EquityCurve, run_signals
from velocitas.engine import ledger as ledger_module
from velocitas.engine import records as records_module
from velocitas.engine.codes import (
    F_COLUMNS,
    F_LEG,
    F_LOTS,
    F_PRICE,
    F_REASON,
    F_SIDE,
    FILL_REASONS,
    R_COLUMNS,
    REASON_END_OF_DATA,
    REASON_ENTRY,
)
from velocitas.engine.fixed_point import price_units
from velocitas.engine.ledger import Ledger, LegLabel, build_ledger, decimal_ledger
from velocitas.engine.records import FillRecords, RejectionRecords, TradeRecords

LEGS = [LegLabel("X", "given"), LegLabel("ÉTH-€", "other"), LegLabel("X", "other")]
TIMES = START_NS + MINUTE_NS * np.arange(1_000, dtype=np.int64)
NO_REJECTIONS = np.zeros((0, R_COLUMNS))


def _key(value: Decimal) -> tuple[str, tuple[int, tuple[int, ...], int | str]]:
    """Digit for digit: the text and the (sign, digits, exponent) triple (−0 ≠ 0, 1.0 ≠ 1.00)."""
    return str(value), value.as_tuple()


def _replay(
    records: np.ndarray, lot: Decimal, rate: Decimal, fixed: Decimal, cash: Decimal
) -> tuple[list[tuple[Decimal, Decimal, Decimal]], list[tuple[Decimal, ...]], Decimal]:
    """The ledger's rules written out again (docs/backtesting-assumptions.md), no engine code:
    fills' (quantity, price, fee), trades' (gross, fees, net), the final cash, in arithmetic
    that must be exact (Inexact traps)."""
    with localcontext(Context(prec=120, traps=[Inexact])):
        return _replay_exactly(records, lot, rate, fixed, cash)


def _replay_exactly(
    records: np.ndarray, lot: Decimal, rate: Decimal, fixed: Decimal, cash: Decimal
) -> tuple[list[tuple[Decimal, Decimal, Decimal]], list[tuple[Decimal, ...]], Decimal]:
    fills, trades, open_at = [], [], {}
    for row in records:
        price = Decimal(f"{row[F_PRICE]:.8f}")
        quantity = lot * int(row[F_LOTS])
        fee = quantity * price * rate + fixed
        cash = cash - quantity * price - fee if row[F_SIDE] > 0 else cash + quantity * price - fee
        fills.append((quantity, price, fee))
        leg = int(row[F_LEG])
        if row[F_REASON] == REASON_ENTRY:
            open_at[leg] = (row[F_SIDE], quantity, price, fee)
            continue
        side, held, entry_price, entry_fee = open_at.pop(leg)
        gross = (1 if side > 0 else -1) * held * (price - entry_price)
        fees = entry_fee + fee
        trades.append((gross, fees, gross - fees))
    return fills, trades, cash


@st.composite
def fill_records(draw: st.DrawFn) -> np.ndarray:
    """Kernel-shaped fill records: per leg, entries and exits alternate; prices with up to 8
    decimals, as floats (sometimes off the grid, as the kernel's slippage leaves them)."""
    n_legs = draw(st.integers(1, len(LEGS)))
    rows = []
    open_side: dict[int, tuple[int, int]] = {}
    bar = 0
    for _ in range(draw(st.integers(0, 24))):
        leg = draw(st.integers(0, n_legs - 1))
        decimals = draw(st.integers(0, 8))
        units = draw(st.integers(1, 10**14))
        price = float(Decimal(units).scaleb(-decimals))
        if draw(st.booleans()):
            price *= 1.0 + draw(st.floats(-0.01, 0.01))
        lots = draw(st.sampled_from([1, 3, 250, 10**6, 123_456_789, 2**40]))
        if leg in open_side:
            entry_side, lots = open_side.pop(leg)  # an exit closes the whole position
            side, reason = -entry_side, draw(st.integers(1, len(FILL_REASONS) - 1))
        else:
            side, reason = draw(st.sampled_from([1, -1])), REASON_ENTRY
            open_side[leg] = (side, lots)
        bar += draw(st.integers(0, 3))
        rows.append((bar, leg, side, lots, price, 0.0, reason))
    for leg, (side, lots) in open_side.items():  # the end-of-data close
        rows.append((bar, leg, -side, lots, 10.0, 0.0, REASON_END_OF_DATA))
    return np.asarray(rows, dtype=np.float64).reshape(-1, F_COLUMNS)


AMOUNTS = st.fixed_dictionaries(
    {
        "lot": st.sampled_from(["0.00000001", "0.001", "0.010", "1", "0.5", "25", "1E+2"]),
        "rate": st.sampled_from(["0", "0.001", "0.00075", "0.0025", "0.000001", "0.0999"]),
        "fixed": st.sampled_from(["0", "0.00", "0.5", "1.25", "0.0000001", "3"]),
        "cash": st.sampled_from(["10000", "10000.00", "1000000", "0.01", "123.456789"]),
    }
)


def _ledgers(records: np.ndarray, amounts: dict[str, str]) -> tuple[Ledger, Ledger]:
    arguments: dict[str, Any] = {
        "initial_cash": Decimal(amounts["cash"]),
        "lot_size": Decimal(amounts["lot"]),
        "fee_rate": Decimal(amounts["rate"]),
        "fee_fixed": Decimal(amounts["fixed"]),
    }
    legs = LEGS[: int(records[:, F_LEG].max()) + 1] if len(records) else LEGS[:1]
    fast = build_ledger(records, NO_REJECTIONS, TIMES, legs, **arguments)
    reference = decimal_ledger(records, NO_REJECTIONS, TIMES, legs, **arguments)
    return fast, reference


def _result(ledger: Ledger) -> BacktestResult:
    return BacktestResult(
        initial_cash=Decimal(1),
        final_equity=ledger.final_equity,
        trades=ledger.trades,
        fills=ledger.fills,
        rejections=ledger.rejections,
        equity=EquityCurve(TIMES[:3], np.ones(3)),
        breakdown=ledger.breakdown,
        engine_version="test",
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=fill_records(), amounts=AMOUNTS)
def test_exact_ledger_equals_an_independent_decimal_replay(
    records: np.ndarray, amounts: dict[str, str]
) -> None:
    fast, reference = _ledgers(records, amounts)
    fills, trades, cash = _replay(
        records, *(Decimal(amounts[k]) for k in ("lot", "rate", "fixed", "cash"))
    )
    if isinstance(fast.fills, FillRecords):  # else it fell back to the Decimal ledger
        assert isinstance(fast.trades, TradeRecords)
    assert [(_key(f.quantity), _key(f.price), _key(f.fee)) for f in fast.fills] == [
        tuple(_key(v) for v in fill) for fill in fills
    ]
    assert [(_key(t.gross_pnl), _key(t.fees), _key(t.net_pnl)) for t in fast.trades] == [
        tuple(_key(v) for v in trade) for trade in trades
    ]
    assert _key(fast.final_equity) == _key(cash if len(records) else Decimal(amounts["cash"]))
    # Everything the Decimal ledger reports, the same objects and the same hash.
    assert list(fast.fills) == reference.fills
    assert list(fast.trades) == reference.trades
    assert fast.breakdown.to_dict() == reference.breakdown.to_dict()
    assert _result(fast).canonical_hash() == _result(reference).canonical_hash()
    # The metrics' inputs, bit for bit (−0.0 included).
    if isinstance(fast.trades, TradeRecords):
        floats = [float(t.net_pnl) for t in reference.trades]
        returns = [t.return_fraction for t in reference.trades]
        assert _bits(fast.trades.net_pnl_floats()) == _bits(floats)
        assert _bits(fast.trades.return_fractions()) == _bits(returns)
    if isinstance(fast.fills, FillRecords):
        assert _key(fast.fills.fees_paid()) == _key(
            sum((f.fee for f in reference.fills), start=Decimal(0))
        )


def _bits(values: Any) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.int64).tolist()


def test_most_generated_runs_take_the_scaled_integer_path() -> None:
    """The property test above exercises the fast path, not only the fallback."""
    records = np.asarray(
        [(0, 0, 1, 250, 101.25, 0, 0), (3, 0, -1, 250, 99.5, 0, 1)], dtype=np.float64
    )
    fast, _ = _ledgers(records, {"lot": "0.001", "rate": "0.001", "fixed": "0", "cash": "10000"})
    assert isinstance(fast.fills, FillRecords)
    assert isinstance(fast.trades, TradeRecords)


@pytest.mark.parametrize(
    ("lot", "lots", "why"),
    [
        ("1000000000000000000", 1, "a lot coefficient past the integers' factor range"),
        ("0.00000001", 2**52, "a notional times the fee rate past the wide range"),
    ],
)
def test_amounts_past_the_integer_range_fall_back_to_the_decimal_ledger(
    lot: str, lots: int, why: str
) -> None:
    records = np.asarray(
        [(0, 0, 1, lots, 4.0e7, 0, 0), (1, 0, -1, lots, 4.4e7, 0, 1)], dtype=np.float64
    )
    amounts = {"lot": lot, "rate": "0.0999999999999999", "fixed": "0", "cash": "10000"}
    fast, reference = _ledgers(records, amounts)
    assert isinstance(fast.fills, list), why
    assert fast.final_equity == reference.final_equity


def test_a_short_closed_at_its_entry_price_keeps_decimals_negative_zero() -> None:
    records = np.asarray([(0, 0, -1, 7, 50.0, 0, 0), (2, 0, 1, 7, 50.0, 0, 1)], dtype=np.float64)
    fast, reference = _ledgers(records, {"lot": "0.5", "rate": "0", "fixed": "0", "cash": "100"})
    (trade,) = fast.trades
    assert str(trade.gross_pnl) == "-0E-9"
    assert str(trade.net_pnl) == "-0E-9"
    assert trade == reference.trades[0]
    assert isinstance(fast.trades, TradeRecords)
    assert np.signbit(fast.trades.net_pnl_floats()).tolist() == [True]


@settings(deadline=None)  # the first call may load the compiled function
@given(st.floats(min_value=0.0, max_value=4.4e7, allow_nan=False))
@example(0.001953125)  # × 10**8 is 195312.5 exactly: the tie goes to the even 195312
@example(0.005859375)  # 585937.5: to 585938
@example(4.4e7 + 0.123456785)
@example(1e-300)
def test_price_units_round_like_the_ledgers_text_form(price: float) -> None:
    units, exact = price_units(price)
    assert exact
    assert Decimal(units).scaleb(-8) == Decimal(f"{price:.8f}")


@pytest.mark.parametrize("price", [float("nan"), -1.0, 4.6e7, float("inf")])
def test_price_units_refuse_what_they_cannot_round_exactly(price: float) -> None:
    assert not price_units(price)[1]


MARKETS = [gbm_bars(400, seed=seed, vol=0.01, symbol="X") for seed in (1, 2, 3)]
SPECS: list[dict[str, Any]] = [
    {},
    {"allow_short": True, "fees": {"rate": "0.00075", "fixed": "0.25"}, "slippage_bps": "3"},
    {"sizing": {"mode": "fixed_quantity", "value": "7.5", "lot_size": "0.5"}, "fill": "same_close"},
    {
        "allow_short": True,
        "sizing": {"mode": "fraction_of_equity", "value": "0.3", "lot_size": "0.00000001"},
        "stops": {
            "stop_loss": {"kind": "percent", "value": "0.01"},
            "take_profit": {"kind": "percent", "value": "0.02"},
            "trailing_stop": {"kind": "percent", "value": "0.015"},
        },
        "risk": {"max_drawdown": "0.05", "max_daily_loss": "0.02"},
    },
    {"initial_cash": "1000.50", "sizing": {"mode": "fixed_cash", "value": "2500", "lot_size": "1"}},
    {  # the time exit and the count rules: exit reasons max_holding, rejections by count
        "allow_short": True,
        "risk": {"max_holding_bars": 7, "max_trades_per_day": 40, "max_open_positions": 1},
    },
]


@pytest.mark.parametrize("overrides", SPECS)
def test_run_signals_gives_the_decimal_ledgers_result_and_hash(
    overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [(spec(("X",), **overrides), bars, sma_cross(bars.close, 5, 20, short=True))
            for bars in MARKETS]  # fmt: skip
    fast = [run_signals(s, [b], [sides]) for s, b, sides in runs]
    monkeypatch.setattr(ledger_module, "exact_ledger", lambda *_, **__: None)
    reference = [run_signals(s, [b], [sides]) for s, b, sides in runs]
    for ours, theirs in zip(fast, reference, strict=True):
        assert isinstance(ours.fills, FillRecords)
        assert isinstance(ours.rejections, RejectionRecords)
        assert isinstance(theirs.fills, list)
        assert ours.result_hash == theirs.result_hash
        assert ours.to_dict() == theirs.to_dict()  # fills, trades, rejections, metrics


@pytest.mark.parametrize("fill", ["next_open", "same_close"])
def test_the_decimal_ledger_reconciles_time_and_session_exits(
    fill: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.velocitas.engine.test_risk_rules import busy_sides, exchange_bars, make_spec

    bars = exchange_bars(seed=3)
    sides = busy_sides(len(bars), seed=4, hold=3)
    run_spec = make_spec(
        "30m", fill=fill, calendar="XNYS",
        risk={"flat_at_session_close": True, "max_holding_bars": 6, "max_trades_per_day": 2},
    )  # fmt: skip
    ours = run_signals(run_spec, [bars], [sides])
    monkeypatch.setattr(ledger_module, "exact_ledger", lambda *_, **__: None)
    theirs = run_signals(run_spec, [bars], [sides])
    assert isinstance(ours.fills, FillRecords)
    assert isinstance(theirs.fills, list)
    reasons = {t.exit_reason for t in theirs.trades}
    assert {"max_holding", "session_close"} <= reasons
    assert "max_trades_per_day" in {r.reason for r in theirs.rejections}
    assert ours.result_hash == theirs.result_hash
    assert ours.to_dict() == theirs.to_dict()


def test_a_result_with_lazy_records_pickles_to_equal_records() -> None:
    bars = MARKETS[0]
    result = run_signals(spec(("X",)), [bars], [sma_cross(bars.close, 5, 20)])
    copy = pickle.loads(pickle.dumps(result))
    assert copy.fills == result.fills
    assert copy.trades == list(result.trades)
    assert copy.rejections == result.rejections
    assert copy.canonical_hash() == result.result_hash


def test_quotients_near_a_float_midpoint_are_computed_in_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slow path taken for an ambiguous quotient gives what the Trade objects give."""
    bars = MARKETS[1]
    result = run_signals(
        spec(("X",), allow_short=True), [bars], [sma_cross(bars.close, 5, 20, short=True)]
    )
    trades = result.trades
    assert isinstance(trades, TradeRecords)

    def all_ambiguous(numerator: np.ndarray, *_: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(numerator), np.nan), np.ones(len(numerator), dtype=np.bool_)

    monkeypatch.setattr(records_module, "quotients", all_ambiguous)
    assert _bits(trades.net_pnl_floats()) == _bits([float(t.net_pnl) for t in trades])
    assert _bits(trades.return_fractions()) == _bits([t.return_fraction for t in trades])

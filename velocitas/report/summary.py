"""A backtest result as rows of (label, text): what both the terminal and the HTML page show.

Fractions are printed as percentages, money with two decimals (exact values stay in
`BacktestResult.to_dict()`), and an undefined ratio (None: no trade, no variance) as "n/a".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from velocitas.domain.trades import Trade
from velocitas.engine.result import BacktestResult, PnlSummary

__all__ = [
    "TRADE_COLUMNS",
    "display_number",
    "format_duration",
    "format_money",
    "format_time",
    "headline_rows",
    "pnl_rows",
    "trade_rows",
    "trade_summary_rows",
]

Row = tuple[str, str]

_PERCENT = "percent"
_RATIO = "ratio"
_MONEY = "money"
_COUNT = "count"
_SECONDS = "seconds"
_NUMBER = "number"
_TEXT = "text"

# (metric key, label, format): the order a reader scans a report in.
_HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Total return", _PERCENT),
    ("buy_and_hold_return", "Buy & hold return", _PERCENT),
    ("cagr", "CAGR", _PERCENT),
    ("annualised_volatility", "Volatility (ann.)", _PERCENT),
    ("sharpe", "Sharpe", _RATIO),
    ("sortino", "Sortino", _RATIO),
    ("calmar", "Calmar", _RATIO),
    ("max_drawdown", "Max drawdown", _PERCENT),
    ("max_drawdown_duration_bars", "Max drawdown duration (bars)", _COUNT),
    ("max_drawdown_duration_s", "Max drawdown duration", _SECONDS),
    ("exposure", "Exposure", _PERCENT),
    ("trade_count", "Trades", _COUNT),
    ("win_rate", "Win rate", _PERCENT),
    ("profit_factor", "Profit factor", _RATIO),
    ("expectancy", "Expectancy", _MONEY),
    ("sqn", "SQN", _RATIO),
    ("avg_trade", "Average trade", _MONEY),
    ("best_trade", "Best trade", _MONEY),
    ("worst_trade", "Worst trade", _MONEY),
    ("avg_trade_return", "Average trade return", _PERCENT),
    ("best_trade_return", "Best trade return", _PERCENT),
    ("worst_trade_return", "Worst trade return", _PERCENT),
    ("longest_win_streak", "Longest winning streak", _COUNT),
    ("longest_loss_streak", "Longest losing streak", _COUNT),
    ("fees_paid", "Fees paid", _MONEY),
    ("bars", "Bars", _COUNT),
    ("first_bar_opened_at", "First bar opened", _TEXT),
    ("last_bar_closed_at", "Last bar closed", _TEXT),
    ("calendar", "Calendar", _TEXT),
    ("periods_per_year", "Periods per year", _NUMBER),
    ("risk_free_rate", "Risk-free rate", _PERCENT),
    ("lot_size", "Lot size", _TEXT),
)


def format_money(value: Decimal | float) -> str:
    """Two decimals, thousands separated, half-even (display only)."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return f"{exact.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"


def display_number(value: Any, *, digits: int = 6) -> str:
    """A number for a table cell (display only: JSON keeps the exact value).

    A float gets four decimals. A Decimal, or a string holding one, keeps its integer part and
    at most `digits` significant digits (`42123.456789` -> `42123.5`, `0.123456789` ->
    `0.123457`). None is "-"; anything else is `str(value)`."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str):
        try:
            exact = Decimal(value)
        except InvalidOperation:
            return value
        return _significant(exact, digits) if exact.is_finite() else value
    if isinstance(value, Decimal) and value.is_finite():
        return _significant(value, digits)
    return str(value)


def _significant(value: Decimal, digits: int) -> str:
    places = max(digits - 1 - value.adjusted(), 0) if value else 0
    if -int(value.as_tuple().exponent) > places:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_time(moment: datetime | str) -> str:
    """A short UTC time for a table cell: `2024-01-01 09:30`, seconds only when not zero, the
    date alone at midnight. Accepts an ISO-8601 string; a naive time is UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if moment.second else ""))


def format_duration(seconds: float) -> str:
    """`3d 04:05:06` style; whole seconds."""
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _format(value: float | int | str | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if kind == _PERCENT:
        return f"{value * 100:.2f}%"
    if kind == _RATIO:
        return f"{value:.3f}"
    if kind == _MONEY:
        return format_money(value)
    if kind == _SECONDS:
        return format_duration(value)
    if kind == _NUMBER:
        return f"{value:,.6g}"
    return f"{int(value):,}"


def headline_rows(result: BacktestResult) -> list[Row]:
    """Capital, the headline metrics, what the run used (bars, calendar, lot), its warnings,
    and its identity (engine version, result hash)."""
    rows: list[Row] = [
        ("Initial cash", format_money(result.initial_cash)),
        ("Final equity", format_money(result.final_equity)),
        ("Net P&L", format_money(result.final_equity - result.initial_cash)),
    ]
    metrics = result.metrics
    rows += [
        (label, _format(metrics[key], kind)) for key, label, kind in _HEADLINE if key in metrics
    ]
    rows += [("Warning", warning) for warning in result.warnings]
    rows += [
        ("Rejected orders", f"{len(result.rejections):,}"),
        ("Engine version", result.engine_version),
        ("Result hash", result.result_hash),
    ]
    return rows


def pnl_rows(slices: dict[str, PnlSummary]) -> list[tuple[str, str, str, str, str]]:
    """(name, trades, gross, fees, net) per slice, in the breakdown's order."""
    return [
        (
            name,
            f"{pnl.trades:,}",
            format_money(pnl.gross_pnl),
            format_money(pnl.fees),
            format_money(pnl.net_pnl),
        )
        for name, pnl in slices.items()
    ]


def trade_summary_rows(result: BacktestResult) -> list[Row]:
    """Trades by side and outcome, exits by reason, rejections by reason, mean holding bars."""
    trades = result.trades
    rows: list[Row] = [
        ("Trades", f"{len(trades):,}"),
        ("Long / short", f"{_count(trades, 'long'):,} / {_count(trades, 'short'):,}"),
        (
            "Winners / losers",
            f"{sum(t.net_pnl > 0 for t in trades):,} / {sum(t.net_pnl < 0 for t in trades):,}",
        ),
    ]
    if trades:
        held = sum(t.exit_bar - t.entry_bar for t in trades) / len(trades)
        rows.append(("Mean bars held", f"{held:.1f}"))
    for reason, count in sorted(Counter(t.exit_reason for t in trades).items()):
        rows.append((f"Exits by {reason}", f"{count:,}"))
    for reason, count in sorted(Counter(r.reason for r in result.rejections).items()):
        rows.append((f"Rejected: {reason}", f"{count:,}"))
    return rows


def _count(trades: Sequence[Trade], side: str) -> int:
    return sum(t.side == side for t in trades)


TRADE_COLUMNS = (
    "leg",
    "symbol",
    "side",
    "quantity",
    "entry_at",
    "entry_price",
    "exit_at",
    "exit_price",
    "net_pnl",
    "return",
    "exit_reason",
)


def trade_rows(trades: Sequence[Trade], *, compact: bool = False) -> list[tuple[str, ...]]:
    """One row per trade in `TRADE_COLUMNS` order; prices and quantities exact, P&L rounded.

    `compact` (a terminal table): short UTC times and prices, quantities rounded to six
    significant digits."""
    number = display_number if compact else _exact
    when = format_time if compact else _iso
    return [
        (
            str(t.leg),
            t.symbol,
            t.side.value,
            number(t.quantity),
            when(t.entry_at),
            number(t.entry_price),
            when(t.exit_at),
            number(t.exit_price),
            format_money(t.net_pnl),
            f"{t.return_fraction * 100:.2f}%",
            t.exit_reason,
        )
        for t in trades
    ]


def _exact(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

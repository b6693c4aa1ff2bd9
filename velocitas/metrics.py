"""Performance statistics of a backtest, as pure functions, and `compute_metrics` for a report.

Conventions (docs/strategies.md, "Metrics", has the same with examples):

- The equity curve holds one value per bar, marked at the bar's close. With `initial_equity`
  the curve starts from that value before bar 0 (so a fee paid at bar 0 counts), else from
  `equity[0]`. Period returns are `rₜ = Eₜ / Eₜ₋₁ − 1`; a return after a non-positive equity is
  undefined (NaN) and left out.
- Periods per year `P` follow the timeframe and the market calendar (`velocitas.calendars`):
  `crypto` trades 365 × 24 h, so `P = 365 · 86 400 s / bar seconds`; `fx` 260 × 24 h; an
  exchange (`XNYS`, ...) its sessions per year (252 for XNYS), so `P = 252` for daily bars and
  `P = 252 · 23 400 s / bar seconds` for intraday ones. `crypto_24_7` and `exchange` are the
  old names of `crypto` and `XNYS`.
- CAGR's years are the elapsed time of the data: from bar 0's opening (with `initial_equity`,
  else bar 0's close) to the last bar's close, over the calendar's year (365 days for crypto,
  365.25 otherwise). Weekends and holidays count as time, as they do for an investor. On
  gap-free 24/7 bars this is the number of period returns / `P`, as it always was.
- `rf` is the annual risk-free rate (0 by default), per period `(1 + rf)^(1/P) − 1`.
  Sharpe = mean(r − rf) / std(r) · √P with std's ddof = 1; Sortino = mean(r − rf) / DD · √P
  with the downside deviation DD = √(mean(min(r − rf, 0)²)) over all periods; annualised
  volatility = std(r) · √P; CAGR = (E_end / E_start)^(1 / years) − 1; Calmar = CAGR / max DD.
- Max drawdown is a positive fraction: the largest fall below a running peak, `1 − E / peak`.
  Its duration is the longest time spent below a previous peak, from that peak to the first
  point back at or above it (or to the end), in bars and in seconds: the longest drawdown,
  not necessarily the deepest one's, counted as backtesting.py does (vectorbt counts from the
  first bar under water, one bar less).
- Trades: win rate = wins / trades (a win has net P&L > 0, a loss < 0, zero is neither);
  profit factor = Σ wins / |Σ losses|; expectancy = mean net P&L per trade; SQN (Van Tharp) =
  √n · mean / std (ddof 1) of net P&L; streaks count consecutive wins or losses.
- Buy-and-hold return = last close / first close − 1 of the benchmark over the same bars.

A ratio that is undefined (no variance, no losing period, no losing trade, no trade, a single
point) is `None`, never ±inf or NaN: `compute_metrics` output is JSON-ready as it is, made of
plain Python floats, ints and None, in a fixed key order.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from velocitas.calendars import MarketCalendar, market_calendar
from velocitas.domain.timeframe import Timeframe
from velocitas.jit import njit

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Calendar = str
"""A calendar name for `velocitas.calendars.market_calendar` (`crypto`, `fx`, `XNYS`, ...)."""
Number = float | int | None

__all__ = [
    "METRIC_KEYS",
    "Calendar",
    "annualised_volatility",
    "buy_and_hold_return",
    "cagr",
    "calmar_ratio",
    "compute_metrics",
    "drawdown_duration",
    "elapsed_cagr",
    "expectancy",
    "max_drawdown",
    "period_returns",
    "periods_per_year",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "sqn",
    "streaks",
    "total_return",
    "win_rate",
]

METRIC_KEYS = (
    "total_return",
    "cagr",
    "annualised_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_bars",
    "max_drawdown_duration_s",
    "trade_count",
    "win_rate",
    "profit_factor",
    "expectancy",
    "sqn",
    "avg_trade",
    "best_trade",
    "worst_trade",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "longest_win_streak",
    "longest_loss_streak",
    "exposure",
    "fees_paid",
    "buy_and_hold_return",
    "bars",
    "periods_per_year",
    "risk_free_rate",
)
"""Keys of `compute_metrics`' result, in order."""


def periods_per_year(timeframe: str, calendar: Calendar | MarketCalendar = "crypto") -> float:
    """Bars per year for `timeframe` ("1m" … "1d") under `calendar` (a name or a calendar)."""
    return _calendar(calendar).periods_per_year(timeframe)


def _calendar(calendar: Calendar | MarketCalendar) -> MarketCalendar:
    return calendar if isinstance(calendar, MarketCalendar) else market_calendar(calendar)


def _f64(x: npt.ArrayLike) -> F64:
    return np.ascontiguousarray(x, dtype=np.float64)


def _initial(initial_equity: float | Decimal | None) -> float:
    return math.nan if initial_equity is None else float(initial_equity)


def _number(x: float) -> float | None:
    """A plain float, or None for NaN/±inf (undefined)."""
    x = float(x)
    return x if math.isfinite(x) else None


@njit(cache=True)
def _returns(equity: F64, initial: float) -> F64:
    has_initial = not np.isnan(initial)
    first = 0 if has_initial else 1
    out = np.empty(max(len(equity) - first, 0))
    prev = initial if has_initial else equity[0]
    for i in range(first, len(equity)):
        out[i - first] = equity[i] / prev - 1.0 if prev > 0.0 else np.nan
        prev = equity[i]
    return out


def period_returns(equity: npt.ArrayLike, initial_equity: float | Decimal | None = None) -> F64:
    """`Eₜ / Eₜ₋₁ − 1` per bar (from `initial_equity` when given); NaN after equity <= 0."""
    e = _f64(equity)
    if len(e) == 0:
        return np.empty(0)
    return _returns(e, _initial(initial_equity))


@njit(cache=True)
def _equity_stats(equity: F64, initial: float, rf: float) -> tuple[int, float, float, float]:
    """One pass over the curve: (returns counted, mean excess return, std, downside deviation).

    The variance uses sums about the first return (shifted data), so one pass is enough and
    precise; the loop is written without data-dependent branches because a random-walk curve
    makes those unpredictable (4x slower).
    """
    has_initial = not np.isnan(initial)
    prev = initial if has_initial else equity[0]
    count = 0
    shift = 0.0
    total = 0.0
    squares = 0.0
    downside = 0.0
    for i in range(0 if has_initial else 1, len(equity)):
        v = equity[i]
        if prev > 0.0:  # after a blown account returns are undefined
            x = v / prev - 1.0 - rf
            if count == 0:
                shift = x
            d = x - shift
            total += d
            squares += d * d
            loss = min(x, 0.0)
            downside += loss * loss
            count += 1
        prev = v
    if count == 0:
        return 0, np.nan, np.nan, np.nan
    mean = total / count
    std = np.sqrt(max(squares - count * mean * mean, 0.0) / (count - 1)) if count > 1 else np.nan
    return count, mean + shift, std, np.sqrt(downside / count)


def _rf_per_period(risk_free_rate: float, per_year: float) -> float:
    return float((1.0 + risk_free_rate) ** (1.0 / per_year) - 1.0)


def _ratio(numerator: float, denominator: float, per_year: float) -> float | None:
    if not denominator > 0.0:  # zero or NaN: undefined
        return None
    return _number(numerator / denominator * math.sqrt(per_year))


def annualised_volatility(
    equity: npt.ArrayLike, periods_per_year: float, initial_equity: float | Decimal | None = None
) -> float | None:
    """std(r, ddof=1) · √P over the curve's period returns; None with fewer than two."""
    _, _, std, _ = _equity_stats(_f64(equity), _initial(initial_equity), 0.0)
    return _number(std * math.sqrt(periods_per_year))


def sharpe_ratio(
    equity: npt.ArrayLike,
    periods_per_year: float,
    initial_equity: float | Decimal | None = None,
    risk_free_rate: float = 0.0,
) -> float | None:
    """mean(r − rf) / std(r) · √P; None when std is 0 or undefined."""
    rf = _rf_per_period(risk_free_rate, periods_per_year)
    _, mean, std, _ = _equity_stats(_f64(equity), _initial(initial_equity), rf)
    return _ratio(mean, std, periods_per_year)


def sortino_ratio(
    equity: npt.ArrayLike,
    periods_per_year: float,
    initial_equity: float | Decimal | None = None,
    risk_free_rate: float = 0.0,
) -> float | None:
    """mean(r − rf) / √(mean(min(r − rf, 0)²)) · √P; None without a losing period."""
    rf = _rf_per_period(risk_free_rate, periods_per_year)
    _, mean, _, downside = _equity_stats(_f64(equity), _initial(initial_equity), rf)
    return _ratio(mean, downside, periods_per_year)


def total_return(equity: npt.ArrayLike, initial_equity: float | Decimal | None = None) -> float:
    """E_end / E_start − 1 (E_start = `initial_equity` or the first value)."""
    e = _f64(equity)
    start = float(e[0]) if initial_equity is None else float(initial_equity)
    return float(e[-1]) / start - 1.0


def cagr(
    equity: npt.ArrayLike, periods_per_year: float, initial_equity: float | Decimal | None = None
) -> float | None:
    """Compound annual growth rate over `len(period_returns) / P` years.

    −1 when the account ends at or below zero; None over zero periods or when the annualised
    figure overflows a float (a large move over a few minutes).
    """
    e = _f64(equity)
    periods = len(e) if initial_equity is not None else len(e) - 1
    if periods <= 0:
        return None
    start = float(e[0]) if initial_equity is None else float(initial_equity)
    end = float(e[-1])
    if end <= 0.0:
        return -1.0
    exponent = math.log(end / start) * periods_per_year / periods
    if exponent > 700.0:  # exp would overflow
        return None
    return math.expm1(exponent)


_DAY_SECONDS = 86_400.0


def elapsed_cagr(
    start: float,
    end: float,
    opened_at_ns: npt.ArrayLike,
    timeframe: str,
    calendar: Calendar | MarketCalendar = "crypto",
    *,
    from_open: bool = True,
) -> float | None:
    """Compound annual growth from `start` to `end` over the elapsed time of the bars: from
    bar 0's opening (`from_open`, the run starts before it) or close to the last bar's close,
    in years of the calendar (365 days for crypto, 365.25 otherwise).

    −1 when `end` is at or below zero; None over no elapsed time or when the figure overflows
    a float (a large move over a few minutes).
    """
    times = np.asarray(opened_at_ns, dtype=np.int64)
    frame = Timeframe.parse(timeframe)
    # A month has no fixed length: measure it in seconds (one bar of "1 s").
    seconds = float(frame.seconds) if frame.fixed else 1.0
    bar_ns = int(seconds) * 1_000_000_000
    closes = frame.add_ns(times[[0, -1]], 1)
    first = int(times[0]) if from_open else int(closes[0])
    # Elapsed time in bars and the year in bars: on gap-free 24/7 bars these are the float
    # operations `cagr` always did (period count, 365 · 86 400 s / bar), so figures hold.
    periods = (int(closes[1]) - first) / bar_ns
    if periods <= 0:
        return None
    if end <= 0.0:
        return -1.0
    per_year = _calendar(calendar).year_days * _DAY_SECONDS / seconds
    exponent = math.log(end / start) * per_year / periods
    if exponent > 700.0:  # exp would overflow
        return None
    return math.expm1(exponent)


@njit(cache=True)
def _drawdown(equity: F64, initial: float) -> tuple[float, int, int]:
    """(max drawdown, start point, end point of the longest time under water).

    Points are numbered like bars; the initial equity, when given, is point -1.
    """
    has_initial = not np.isnan(initial)
    peak = initial if has_initial else equity[0]
    peak_at = -1 if has_initial else 0
    underwater = False
    deepest = 0.0
    longest = 0
    longest_from = peak_at
    longest_to = peak_at
    for i in range(0 if has_initial else 1, len(equity)):
        v = equity[i]
        if v >= peak:
            if underwater and i - peak_at > longest:
                longest, longest_from, longest_to = i - peak_at, peak_at, i
            underwater = False
            peak = v
            peak_at = i
        else:
            underwater = True
            deepest = max(deepest, 1.0 - v / peak)  # branch-free: see _equity_stats
    last = len(equity) - 1
    if underwater and last - peak_at > longest:
        longest_from, longest_to = peak_at, last
    return deepest, longest_from, longest_to


def max_drawdown(equity: npt.ArrayLike, initial_equity: float | Decimal | None = None) -> float:
    """Largest fall below a running peak as a positive fraction (0.25 = 25 % down)."""
    deepest, _, _ = _drawdown(_f64(equity), _initial(initial_equity))
    return float(deepest)


def drawdown_duration(
    equity: npt.ArrayLike,
    opened_at_ns: npt.ArrayLike,
    timeframe: str,
    initial_equity: float | Decimal | None = None,
) -> tuple[int, int]:
    """Longest time under water as (bars, seconds), from the peak to recovery or the end.

    A point's time is its bar's close (`opened_at + bar length`); the initial equity's is
    bar 0's opening.
    """
    _, start, end = _drawdown(_f64(equity), _initial(initial_equity))
    return _duration(start, end, np.asarray(opened_at_ns, dtype=np.int64), timeframe)


def _duration(start: int, end: int, opened_at_ns: I64, timeframe: str) -> tuple[int, int]:
    frame = Timeframe.parse(timeframe)

    def closed_at(point: int) -> int:
        return int(opened_at_ns[0]) if point < 0 else int(frame.add_ns(opened_at_ns[point]))

    return end - start, (closed_at(end) - closed_at(start)) // 1_000_000_000


def calmar_ratio(cagr_value: float | None, max_drawdown_value: float) -> float | None:
    """CAGR / max drawdown; None when either is missing or the drawdown is 0."""
    if cagr_value is None or not max_drawdown_value > 0.0:
        return None
    return _number(cagr_value / max_drawdown_value)


def win_rate(net_pnls: npt.ArrayLike) -> float | None:
    """Fraction of trades with net P&L > 0; None without trades."""
    p = _f64(net_pnls)
    return float(np.count_nonzero(p > 0.0)) / len(p) if len(p) else None


def profit_factor(net_pnls: npt.ArrayLike) -> float | None:
    """Σ winning P&L / |Σ losing P&L|; None without a losing trade."""
    p = _f64(net_pnls)
    losses = -float(p[p < 0.0].sum())
    # A loss of a few denormals makes the ratio overflow: undefined, like no loss at all.
    return _number(float(p[p > 0.0].sum()) / losses) if losses > 0.0 else None


def expectancy(net_pnls: npt.ArrayLike) -> float | None:
    """Mean net P&L per trade (money); None without trades."""
    p = _f64(net_pnls)
    return float(p.mean()) if len(p) else None


def sqn(net_pnls: npt.ArrayLike) -> float | None:
    """System quality number √n · mean / std (ddof 1); None under two trades or no variance."""
    p = _f64(net_pnls)
    if len(p) < 2:
        return None
    std = float(p.std(ddof=1))
    return _number(math.sqrt(len(p)) * float(p.mean()) / std) if std > 0.0 else None


@njit(cache=True)
def _streaks(pnls: F64) -> tuple[int, int]:
    wins = losses = best_wins = best_losses = 0
    for p in pnls:
        wins = wins + 1 if p > 0.0 else 0
        losses = losses + 1 if p < 0.0 else 0
        best_wins = max(best_wins, wins)
        best_losses = max(best_losses, losses)
    return best_wins, best_losses


def streaks(net_pnls: npt.ArrayLike) -> tuple[int, int]:
    """Longest runs of consecutive winning and losing trades (a zero P&L breaks both)."""
    wins, losses = _streaks(_f64(net_pnls))
    return int(wins), int(losses)


def buy_and_hold_return(close: npt.ArrayLike) -> float | None:
    """Last close / first close − 1; None without closes."""
    c = _f64(close)
    return float(c[-1] / c[0] - 1.0) if len(c) else None


def _trade_extremes(values: F64 | None) -> tuple[float | None, float | None, float | None]:
    if values is None or len(values) == 0:
        return None, None, None
    return float(values.mean()), float(values.max()), float(values.min())


def compute_metrics(
    equity: npt.ArrayLike,
    opened_at_ns: npt.ArrayLike,
    trade_net_pnls: npt.ArrayLike,
    trade_returns: npt.ArrayLike | None = None,
    *,
    timeframe: str,
    calendar: Calendar | MarketCalendar = "crypto",
    fees_paid: float | Decimal = 0.0,
    exposure_bars: int = 0,
    benchmark_close: npt.ArrayLike | None = None,
    initial_equity: float | Decimal | None = None,
    risk_free_rate: float = 0.0,
) -> dict[str, Number]:
    """Every metric of a run in `METRIC_KEYS` order, JSON-ready (see the module docstring).

    `equity`: per-bar equity at each close; `opened_at_ns`: the bars' opening times (int64 ns);
    `trade_net_pnls`: closed trades' net P&L in exit order; `trade_returns`: the same trades'
    net return on their entry value (optional: the `*_trade_return` keys are None without it);
    `fees_paid`: all fees; `exposure_bars`: bars that ended with a position open;
    `benchmark_close`: closes over the same bars for the buy-and-hold return; `calendar`:
    the market's calendar (a name or a `MarketCalendar`) for periods per year and CAGR's years.
    """
    e = _f64(equity)
    times = np.asarray(opened_at_ns, dtype=np.int64)
    n = len(e)
    if n == 0:
        raise ValueError("cannot compute metrics of an empty equity curve")
    if len(times) != n:
        raise ValueError(f"opened_at_ns has {len(times)} values, equity {n}")
    initial = _initial(initial_equity)
    if not (initial if initial_equity is not None else e[0]) > 0.0:
        raise ValueError("the starting equity must be positive")
    per_year = periods_per_year(timeframe, calendar)
    start = float(initial) if initial_equity is not None else float(e[0])

    rf = _rf_per_period(risk_free_rate, per_year)
    _, mean, std, downside = _equity_stats(e, initial, rf)
    deepest, dd_from, dd_to = _drawdown(e, initial)
    dd_bars, dd_seconds = _duration(dd_from, dd_to, times, timeframe)
    growth = elapsed_cagr(
        start, float(e[-1]), times, timeframe, calendar, from_open=initial_equity is not None
    )

    pnls = _f64(trade_net_pnls)
    avg_trade, best_trade, worst_trade = _trade_extremes(pnls)
    rets = None if trade_returns is None else _f64(trade_returns)
    avg_return, best_return, worst_return = _trade_extremes(rets)
    win_streak, loss_streak = streaks(pnls)

    values: tuple[Number, ...] = (
        total_return(e, initial_equity),
        growth,
        _number(std * math.sqrt(per_year)),
        _ratio(mean, std, per_year),
        _ratio(mean, downside, per_year),
        calmar_ratio(growth, deepest),
        float(deepest),
        dd_bars,
        dd_seconds,
        len(pnls),
        win_rate(pnls),
        profit_factor(pnls),
        expectancy(pnls),
        sqn(pnls),
        avg_trade,
        best_trade,
        worst_trade,
        avg_return,
        best_return,
        worst_return,
        win_streak,
        loss_streak,
        int(exposure_bars) / n,
        float(fees_paid),
        None if benchmark_close is None else buy_and_hold_return(benchmark_close),
        n,
        per_year,
        float(risk_free_rate),
    )
    return dict(zip(METRIC_KEYS, values, strict=True))

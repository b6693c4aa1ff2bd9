"""Synthetic OHLCV bars: geometric Brownian motion with GARCH(1,1) volatility clustering,
Markov regime shifts of drift and volatility, intrabar extremes drawn from the Brownian
bridge, and volume that rises with volatility.

Deterministic: one seed gives the same bars, and the same file bytes, every time (for a
given numpy/pyarrow version). Prices are rounded to 8 decimals once, as integers of 1e-8,
and written as exact decimal text; open is the previous close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.jit import njit

__all__ = [
    "DEFAULT_START",
    "REGIMES",
    "TREND_REGIMES",
    "Regime",
    "decimal_text",
    "iso_text",
    "synth_bars",
    "synth_regimes",
    "write_csv",
    "write_parquet",
]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
SCALE = 10**8  # prices and volumes are integers of 1e-8 until they are written as text
_YEAR_SECONDS = 365 * 86_400
_GARCH_ALPHA = 0.08
_GARCH_BETA = 0.90
_MAX_BARS = 50_000_000


@dataclass(frozen=True, slots=True)
class Regime:
    """A market state: annualised drift and volatility of log prices."""

    drift: float
    volatility: float


REGIMES = (
    Regime(drift=0.40, volatility=0.45),  # calm uptrend
    Regime(drift=-0.60, volatility=0.95),  # volatile selloff
    Regime(drift=0.00, volatility=0.30),  # quiet range
)
# Within one of REGIMES' episodes the drift is far below what any test could see (a t-statistic
# near 0.1 over five days), so they differ by volatility alone. These plant trends a trend
# measure can detect: over 50 hourly bars the drift's t-statistic is about 4.
TREND_REGIMES = (
    Regime(drift=25.0, volatility=0.50),  # trending up
    Regime(drift=-25.0, volatility=0.50),  # trending down
    Regime(drift=0.00, volatility=0.40),  # ranging
    Regime(drift=0.00, volatility=1.40),  # volatile
)
_MEAN_REGIME_SECONDS = 5 * 86_400
_REFERENCE_VOLATILITY = REGIMES[2].volatility  # volume's unit of activity


@njit(cache=True)
def _garch_variance(shocks: npt.NDArray[np.float64], alpha: float, beta: float) -> np.ndarray:
    """Conditional variance h_t of unit-variance GARCH(1,1) innovations h_t^0.5 * z_t."""
    n = shocks.size
    h = np.empty(n)
    omega = 1.0 - alpha - beta
    previous = 1.0
    for t in range(n):
        h[t] = previous
        eps2 = previous * shocks[t] * shocks[t]
        previous = omega + alpha * eps2 + beta * previous
    return h


def _regime_path(
    rng: np.random.Generator, n: int, mean_length: float, count: int
) -> npt.NDArray[np.intp]:
    """Regime index per bar: geometric durations, each switch to a different regime."""
    draws = max(8, int(2 * n / mean_length) + 8)
    while True:
        lengths = rng.geometric(1.0 / mean_length, size=draws)
        if lengths.sum() >= n:
            break
        draws *= 2
    steps = rng.integers(1, count, size=draws)
    states = np.cumsum(steps) % count
    return np.repeat(states, lengths)[:n]


def synth_bars(
    bars: int,
    timeframe: Timeframe,
    seed: int,
    start: datetime = DEFAULT_START,
    start_price: float = 100.0,
    *,
    regimes: Sequence[Regime] = REGIMES,
    mean_regime_bars: float | None = None,
) -> pa.Table:
    """`bars` bars from `start` (on the timeframe's grid) as a table of text columns
    `opened_at` (ISO-8601 UTC), `open`, `high`, `low`, `close`, `volume` (8 decimals).

    The market switches between `regimes` after geometric durations of `mean_regime_bars` on
    average (by default five days, at least 20 bars); `synth_regimes` gives the planted regime
    of each bar for the same arguments.
    """
    rng = np.random.default_rng(seed)
    regime = _planted(rng, bars, timeframe, regimes, mean_regime_bars)
    first = _grid_start(start, timeframe)
    dt = timeframe.seconds / _YEAR_SECONDS
    drift = np.array([r.drift for r in regimes])[regime]
    volatility = np.array([r.volatility for r in regimes])[regime]

    shocks = rng.standard_normal(bars)
    variance = _garch_variance(shocks, _GARCH_ALPHA, _GARCH_BETA)
    sigma = volatility * np.sqrt(dt * variance)  # per-bar standard deviation of log return
    log_return = (drift - 0.5 * volatility**2) * dt + sigma * shocks
    close = start_price * np.exp(np.cumsum(log_return))
    open_ = np.concatenate(([start_price], close[:-1]))

    # Extremes of a Brownian bridge from 0 to r with std s: (r ± sqrt(r² − 2 s² ln U)) / 2.
    spread_up = np.sqrt(log_return**2 - 2 * sigma**2 * np.log(rng.random(bars)))
    spread_down = np.sqrt(log_return**2 - 2 * sigma**2 * np.log(rng.random(bars)))
    high = open_ * np.exp((log_return + spread_up) / 2)
    low = open_ * np.exp((log_return - spread_down) / 2)
    activity = np.sqrt(variance) * volatility / _REFERENCE_VOLATILITY
    volume = 50.0 * activity * np.exp(0.35 * rng.standard_normal(bars))

    close_units = np.maximum(np.rint(close * SCALE).astype(np.int64), 1)
    open_units = np.concatenate(([round(start_price * SCALE)], close_units[:-1]))
    body_top = np.maximum(open_units, close_units)
    body_bottom = np.minimum(open_units, close_units)
    # Rounding may nudge an extreme across the body by one unit: clamp it back.
    high_units = np.maximum(np.rint(high * SCALE).astype(np.int64), body_top)
    low_units = np.clip(np.rint(low * SCALE).astype(np.int64), 1, body_bottom)
    volume_units = np.rint(volume * SCALE).astype(np.int64)

    seconds = first + np.arange(bars, dtype=np.int64) * timeframe.seconds
    return pa.table(
        {
            "opened_at": iso_text(seconds, timeframe.seconds),
            "open": decimal_text(open_units),
            "high": decimal_text(high_units),
            "low": decimal_text(low_units),
            "close": decimal_text(close_units),
            "volume": decimal_text(volume_units),
        }
    )


def synth_regimes(
    bars: int,
    timeframe: Timeframe,
    seed: int,
    *,
    regimes: Sequence[Regime] = REGIMES,
    mean_regime_bars: float | None = None,
) -> npt.NDArray[np.intp]:
    """The index into `regimes` of each bar `synth_bars` plants for the same arguments."""
    return _planted(np.random.default_rng(seed), bars, timeframe, regimes, mean_regime_bars)


def _planted(
    rng: np.random.Generator,
    bars: int,
    timeframe: Timeframe,
    regimes: Sequence[Regime],
    mean_regime_bars: float | None,
) -> npt.NDArray[np.intp]:
    """The first draw from `rng`: the regime path (so the bars never depend on who asks)."""
    if not 1 <= bars <= _MAX_BARS:
        raise InvalidRequest(f"bars must be between 1 and {_MAX_BARS}", field="bars")
    if timeframe in (Timeframe.W1, Timeframe.MO1):
        # The generator steps a fixed grid within days; resample its daily bars instead.
        raise InvalidRequest(
            f"synthetic bars come in 1m … 1d, not {timeframe.value}", field="timeframe"
        )
    if len(regimes) < 2:
        raise InvalidRequest("a regime path needs at least two regimes", field="regimes")
    if mean_regime_bars is None:
        mean_regime_bars = max(20.0, _MEAN_REGIME_SECONDS / timeframe.seconds)
    elif not mean_regime_bars >= 1:
        raise InvalidRequest("mean_regime_bars must be at least 1", field="mean_regime_bars")
    return _regime_path(rng, bars, mean_regime_bars, len(regimes))


def decimal_text(units: npt.NDArray[np.int64]) -> pa.Array:
    """Non-negative integers of 1e-8 as exact decimal text with 8 decimals: 150 -> 0.00000150."""
    whole = pa.array(units // SCALE).cast(pa.string())
    fraction = pc.utf8_lpad(pa.array(units % SCALE).cast(pa.string()), width=8, padding="0")
    return pc.binary_join_element_wise(whole, fraction, ".")


def iso_text(seconds: npt.NDArray[np.int64], step: int) -> pa.Array:
    """Epoch seconds on a grid of `step` (dividing a day) as `YYYY-MM-DDTHH:MM:SSZ`.

    Each distinct day and time of day is formatted once and then gathered: ten times faster
    than formatting a million timestamps one by one.
    """
    day, time_of_day = np.divmod(seconds, 86_400)
    first_day = int(day.min())
    days = np.arange(first_day, int(day.max()) + 1).astype("datetime64[D]")
    day_text = pa.array(np.datetime_as_string(days, unit="D"))
    clock_text = pa.array(
        [f"T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z" for t in range(0, 86_400, step)]
    )
    return pc.binary_join_element_wise(
        day_text.take(pa.array(day - first_day)),
        clock_text.take(pa.array(time_of_day // step)),
        "",
    )


def _grid_start(start: datetime, timeframe: Timeframe) -> int:
    if start.tzinfo is None:
        raise InvalidRequest("start needs a time zone (e.g. 2024-01-01T00:00Z)", field="start")
    seconds = int(start.timestamp())
    if seconds % timeframe.seconds or start.microsecond:
        raise InvalidRequest(
            f"start {start.isoformat()} is not on the {timeframe.value} grid", field="start"
        )
    return seconds


def write_csv(table: pa.Table, path: Path) -> None:
    """Write the text table as CSV: a header line, then one line per bar, no quoting."""
    lines = pc.binary_join_element_wise(*table.columns, ",")
    with path.open("wb") as file:
        file.write((",".join(table.column_names) + "\n").encode())
        for chunk in pc.binary_join_element_wise(lines, pa.scalar(""), "\n").chunks:
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset :]
            data = chunk.buffers()[2]
            if data is not None:
                file.write(memoryview(data)[int(offsets[0]) : int(offsets[len(chunk)])])


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write the table as Parquet with typed columns: a UTC timestamp and decimal(20, 8)."""
    typed = pa.table(
        {
            "opened_at": table.column("opened_at").cast(pa.timestamp("s", tz="UTC")),
            **{
                name: table.column(name).cast(pa.decimal128(20, 8))
                for name in ("open", "high", "low", "close", "volume")
            },
        }
    )
    pq.write_table(typed, path, compression="zstd")

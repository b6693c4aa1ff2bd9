"""`velocitas research regimes`: the market regime of stored bars, as of an instant or over a
range (docs/research.md, "Regimes")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from velocitas_cli.output import JsonOption, console, emit_json, fail, table

if TYPE_CHECKING:
    from velocitas.domain.bars import BarArrays
    from velocitas.domain.timeframe import Timeframe

_MEASURES = ("t_stat", "drift", "adx", "plus_di", "minus_di", "vol_percentile", "variance_ratio")


def regimes(
    symbol: str = typer.Argument(..., help="e.g. BTCUSD."),
    timeframe: str = typer.Argument(..., help="Bar length: 1m, 5m, 15m, 30m, 1h, 4h, 1d, ..."),
    at: str | None = typer.Option(
        None, "--at", help="As of this instant (ISO 8601; no zone means UTC). Default: now."
    ),
    start: str | None = typer.Option(None, "--start", help="A range's first bar (inclusive)."),
    end: str | None = typer.Option(None, "--end", help="A range's end (exclusive)."),
    json: bool = JsonOption,
) -> None:
    """Trending up, trending down, ranging or volatile, with a confidence: as of AT from the
    bars closed by then, or for every bar of [START, END) (printed as runs of one regime)."""
    from velocitas.errors import InvalidRequest, VelocitasError

    try:
        if (start is None) != (end is None):
            raise InvalidRequest("give both --start and --end, or neither", field="end")
        if start is not None and at is not None:
            raise InvalidRequest("give --at or a range (--start, --end), not both", field="at")
        if start is not None and end is not None:
            _series(symbol, timeframe, start, end, json=json)
        else:
            _at(symbol, timeframe, at, json=json)
    except VelocitasError as error:
        fail(error)


def _at(symbol: str, timeframe: str, at: str | None, *, json: bool) -> None:
    from velocitas.errors import InvalidRequest
    from velocitas.research.regimes import Regime, classify_regimes

    moment = _instant(at, "at") if at else datetime.now(UTC)
    frame, bars = _load(symbol, timeframe, frame_end=None, moment=moment)
    if not len(bars):
        raise InvalidRequest(f"no {symbol} {frame} bar closed by {moment.isoformat()}", field="at")
    found = classify_regimes(bars.high, bars.low, bars.close)
    i = len(bars) - 1
    answer: dict[str, Any] = {
        "symbol": symbol,
        "timeframe": str(frame),
        "at": moment,
        "opened_at": _when(bars.opened_at[i]),
        "regime": Regime(int(found.labels[i])).label,
        "confidence": _number(found.confidence[i]),
        "measures": {name: _number(getattr(found, name)[i]) for name in _MEASURES},
    }
    if json:
        emit_json(answer)
        return
    confidence = answer["confidence"]
    console.print(
        f"{symbol} {frame} as of {moment:%Y-%m-%d %H:%M}Z "
        f"(bar {answer['opened_at']:%Y-%m-%d %H:%M}): [bold]{answer['regime']}[/]"
        + (f", confidence {confidence:.2f}" if confidence is not None else "")
    )
    table("measures", [answer["measures"]])


def _series(symbol: str, timeframe: str, start: str, end: str, *, json: bool) -> None:
    import numpy as np

    from velocitas.errors import InvalidRequest
    from velocitas.research.regimes import Regime, classify_regimes

    first_at, end_at = _instant(start, "start"), _instant(end, "end")
    if first_at >= end_at:
        raise InvalidRequest("--end must be after --start", field="end")
    frame, bars = _load(symbol, timeframe, frame_end=end_at, moment=None)
    clamped = min(max(first_at, datetime(1678, 1, 1, tzinfo=UTC)), datetime(2262, 1, 1, tzinfo=UTC))
    first = int(np.searchsorted(bars.opened_at, int(clamped.timestamp()) * 10**9))
    if first == len(bars):
        raise InvalidRequest(f"no {symbol} {frame} bars in the range", field="start")
    found = classify_regimes(bars.high, bars.low, bars.close)
    labels, confidence = found.labels[first:], found.confidence[first:]
    opened = bars.opened_at[first:]
    if json:
        emit_json(
            {
                "symbol": symbol,
                "timeframe": str(frame),
                "opened_at": [_when(ns) for ns in opened],
                "regime": [Regime(int(x)).label for x in labels],
                "confidence": [_number(c) for c in confidence],
            }
        )
        return
    edges = np.flatnonzero(np.diff(labels)) + 1
    runs = []
    for a, b in zip(np.r_[0, edges], np.r_[edges, len(labels)], strict=True):
        known = confidence[a:b][~np.isnan(confidence[a:b])]
        runs.append(
            {
                "from": _when(opened[a]),
                "to": _when(opened[b - 1]),
                "bars": int(b - a),
                "regime": Regime(int(labels[a])).label,
                "mean confidence": float(known.mean()) if len(known) else None,
            }
        )
    table(f"{symbol} {frame} regimes", runs, no_wrap=("from", "to"))
    kinds, counts = np.unique(labels, return_counts=True)
    shares = {Regime(int(k)).label: int(n) for k, n in zip(kinds, counts, strict=True)}
    console.print("bars per regime: " + ", ".join(f"{k} {v}" for k, v in shares.items()))


def _load(
    symbol: str, timeframe: str, *, frame_end: datetime | None, moment: datetime | None
) -> tuple[Timeframe, BarArrays]:
    from velocitas.db.bars import load_bars, stored_span
    from velocitas.domain.timeframe import Timeframe
    from velocitas.errors import InvalidRequest

    try:
        frame = Timeframe(timeframe)
    except ValueError:
        known = ", ".join(t.value for t in Timeframe)
        raise InvalidRequest(
            f"unknown timeframe {timeframe!r}: one of {known}", field="timeframe"
        ) from None
    # Bar arithmetic is in int64 nanoseconds (years 1678 to 2261): beyond, no bar can lie.
    early, late = datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)
    if moment is not None and moment < early:
        raise InvalidRequest(f"no {symbol} {frame} bar closed by {moment.isoformat()}", field="at")
    end = (frame.floor(moment) if moment < late else None) if moment is not None else frame_end
    bars = load_bars(symbol, frame, None, end if end is None or end < late else None)
    if not len(bars) and stored_span(symbol, frame) is None:
        raise InvalidRequest(f"no {frame} bars of {symbol} are stored", field="symbol")
    return frame, bars


def _instant(text: str, field: str) -> datetime:
    from velocitas.timeparse import parse_instant

    return parse_instant(text, field=field)


def _when(ns: Any) -> datetime:
    return datetime.fromtimestamp(int(ns) // 10**9, tz=UTC)


def _number(value: float) -> float | None:
    import math

    return None if math.isnan(value) else round(float(value), 6)

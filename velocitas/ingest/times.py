"""The opening-time column: epoch numbers or ISO-8601 text (or Parquet timestamps) to UTC.

Result: epoch microseconds (int64) per row, with `ProblemLog` entries for the rows that have
no usable time. Epoch numbers are read by magnitude: below 10^11 seconds, below 10^14
milliseconds, below 10^17 microseconds. Times without a zone need an explicit `tz`, except
session dates: with `session_dates` (daily and longer bars), a bare date or a time without a zone
at midnight is the bar's session date, read as 00:00 UTC of that date whatever `tz` says. With a
`time_format` (strptime-style), text times are read with it instead, then follow the same rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from velocitas.errors import InvalidRequest
from velocitas.ingest.problems import ProblemLog

_EPOCH_TEXT = r"^ *-?[0-9]{1,18} *$"
_SECONDS_BELOW = 10**11
_MILLIS_BELOW = 10**14
_MICROS_BELOW = 10**17
_UTC_US = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400 * 1_000_000


def parse_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called `name` (`Europe/Berlin`, `UTC`), or an InvalidRequest."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {name!r}", field="tz") from exc


def parse_opened_at(
    values: pa.Array,
    zone: ZoneInfo | None,
    column: str,
    problems: ProblemLog,
    *,
    time_format: str | None = None,
    session_dates: bool = False,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Epoch microseconds per row and a mask of rows whose time could be read."""
    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    kind = values.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        _from_timestamps(values, zone, column, problems, micros, ok, session_dates)
    elif pa.types.is_integer(kind):
        _from_epoch(values.cast(pa.int64()), np.arange(n), column, problems, micros, ok)
    elif time_format is not None:
        rows, iso = _apply_format(values.cast(pa.string()), time_format, column, problems)
        _from_text(iso, zone, column, problems, micros, ok, rows, session_dates)
    else:
        _from_text(
            values.cast(pa.string()), zone, column, problems, micros, ok, None, session_dates
        )
    return micros, ok


def _from_timestamps(
    values: pa.Array,
    zone: ZoneInfo | None,
    column: str,
    problems: ProblemLog,
    micros: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
    session_dates: bool = False,
) -> None:
    if not (pa.types.is_timestamp(values.type) and values.type.tz is not None):
        # Naive timestamps and dates: the text path applies the zone and explains failures.
        _from_text(
            values.cast(pa.string()), zone, column, problems, micros, ok, None, session_dates
        )
        return
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    problems.add(np.flatnonzero(missing), column, "missing time")
    micros[:] = values.cast(_UTC_US).cast(pa.int64()).fill_null(0).to_numpy()
    ok[:] = ~missing


def _from_epoch(
    numbers: pa.Array,
    rows: npt.NDArray[np.int64],
    column: str,
    problems: ProblemLog,
    micros: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
) -> None:
    present = ~np.asarray(numbers.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    problems.add(rows[~present], column, "missing time")
    value = numbers.fill_null(0).to_numpy()
    size = np.abs(value)
    scale = np.where(size < _SECONDS_BELOW, 1_000_000, np.where(size < _MILLIS_BELOW, 1000, 1))
    in_range = size < _MICROS_BELOW
    problems.add(
        rows[present & ~in_range],
        column,
        lambda row: f"epoch value {numbers[int(np.searchsorted(rows, row))]} is out of range",
    )
    good = present & in_range
    micros[rows[good]] = value[good] * scale[good]
    ok[rows[good]] = True


def _from_text(
    text: pa.Array,
    zone: ZoneInfo | None,
    column: str,
    problems: ProblemLog,
    micros: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.int64] | None = None,
    session_dates: bool = False,
) -> None:
    """Read `text`, the times of `rows` (default: every row), into `micros` and `ok`."""
    rows = np.arange(len(text)) if rows is None else rows
    if text.null_count == 0:
        try:  # the common case, ISO-8601 with offsets throughout, in one vectorised pass
            micros[rows] = text.cast(_UTC_US).cast(pa.int64()).to_numpy()
            ok[rows] = True
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    is_epoch = pc.match_substring_regex(text, _EPOCH_TEXT).fill_null(False)
    epoch_mask = np.asarray(is_epoch.to_numpy(zero_copy_only=False), dtype=bool)
    if epoch_mask.any():
        numbers = pc.utf8_trim_whitespace(text.filter(is_epoch)).cast(pa.int64())
        _from_epoch(numbers, rows[epoch_mask], column, problems, micros, ok)
    if epoch_mask.all():
        return
    rows = rows[~epoch_mask]
    iso = text.filter(pc.invert(is_epoch)) if epoch_mask.any() else text
    parsed = _parse_iso_vectorised(iso, zone, session_dates)
    if parsed is not None:
        micros[rows] = parsed
        ok[rows] = True
        return
    # Some value defeated the fast parser: read them one by one to say which and why.
    reasons: dict[int, str] = {}
    for row, value in zip(rows.tolist(), iso.to_pylist(), strict=True):
        result = _parse_iso_one(value, zone, session_dates)
        if isinstance(result, str):
            reasons[row] = result
        else:
            micros[row] = result
            ok[row] = True
    problems.add(np.fromiter(reasons, dtype=np.int64), column, reasons.__getitem__)


def _parse_iso_vectorised(
    text: pa.Array, zone: ZoneInfo | None, session_dates: bool = False
) -> npt.NDArray[np.int64] | None:
    if text.null_count:
        return None
    try:
        utc = text.cast(_UTC_US)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:
            naive = text.cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        wall = np.asarray(naive.cast(pa.int64()).to_numpy(), dtype=np.int64)
        # A session date names a day, not a moment: no zone applies to it.
        dates = session_dates & (wall % _DAY_US == 0)
        if dates.all():
            return wall
        if zone is None:
            return None
        try:
            utc = pc.assume_timezone(naive, zone.key, ambiguous="earliest", nonexistent="raise")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        local = np.asarray(utc.cast(pa.int64()).to_numpy(), dtype=np.int64)
        return np.where(dates, wall, local)
    return np.asarray(utc.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _parse_iso_one(
    value: str | None, zone: ZoneInfo | None, session_dates: bool = False
) -> int | str:
    """Epoch microseconds, or the reason the value is not a usable time."""
    if value is None or not value.strip():
        return "missing time"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return f"not a time: {value!r} (use ISO-8601 with a zone, or epoch s/ms/µs)"
    if moment.tzinfo is None:
        if session_dates and moment.time() == time(0):
            moment = moment.replace(tzinfo=UTC)  # a session date: the day itself, in no zone
        elif zone is None:
            return f"{value!r} has no time zone; write an offset (Z, +01:00) or pass --tz"
        else:
            local = moment.replace(tzinfo=zone)  # fold=0: an ambiguous time is the earlier one
            if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
                return f"{value!r} does not exist in {zone.key} (skipped by a clock change)"
            moment = local
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _apply_format(
    text: pa.Array, time_format: str, column: str, problems: ProblemLog
) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """The rows that `time_format` reads, and their times rewritten as ISO-8601 text (with
    the offset when the format reads one), for the ISO rules to take over. The other rows
    are logged here."""
    fast = _strptime_vectorised(text, time_format)
    if fast is not None:
        return np.arange(len(text)), fast
    # Python's strptime, row by row: every directive, and a reason for each row it refuses.
    iso: list[str] = []
    read: list[int] = []
    reasons: dict[int, str] = {}
    for row, value in enumerate(text.to_pylist()):
        if value is None or not value.strip():
            reasons[row] = "missing time"
            continue
        try:
            iso.append(datetime.strptime(value.strip(), time_format).isoformat())
            read.append(row)
        except ValueError:
            reasons[row] = f"{value!r} does not match the time format {time_format!r}"
    problems.add(np.fromiter(reasons, dtype=np.int64), column, reasons.__getitem__)
    return np.array(read, dtype=np.int64), pa.array(iso, type=pa.string())


def _strptime_vectorised(text: pa.Array, time_format: str) -> pa.Array | None:
    """ISO-8601 text for `text` read with `time_format` by Arrow's strptime, or None when
    Arrow cannot read every row (or the format has %z). Arrow knows no %f: a format that
    ends in `.%f` is read as its head, and the digits after the last dot are the fraction."""
    if "%z" in time_format or text.null_count:
        return None
    text = pc.utf8_trim_whitespace(text)
    fraction = None
    if time_format.endswith(".%f"):
        parts = pc.extract_regex(text, r"^(?P<head>.*)\.(?P<fraction>[0-9]{1,6})$")
        if parts.null_count:
            return None
        text, fraction = parts.field("head"), parts.field("fraction")
        time_format = time_format[: -len(".%f")]
    try:
        naive = pc.strptime(text, format=time_format, unit="us")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if fraction is None:
        return naive.cast(pa.string())
    whole = pc.strftime(naive.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    return pc.binary_join_element_wise(whole, fraction, ".")


def format_micros(micros: int) -> str:
    """ISO-8601 UTC text for epoch microseconds, for messages and summaries."""
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.isoformat().replace("+00:00", "Z")

"""The opening-time column: epoch numbers or ISO-8601 text (or Parquet timestamps) to UTC.

Result: epoch microseconds (int64) per row, with `ProblemLog` entries for the rows that have
no usable time. Epoch numbers are read by magnitude: below 10^11 seconds, below 10^14
milliseconds, below 10^17 microseconds. Times without a zone need an explicit `tz`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def parse_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called `name` (`Europe/Berlin`, `UTC`), or an InvalidRequest."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {name!r}", field="tz") from exc


def parse_opened_at(
    values: pa.Array, zone: ZoneInfo | None, column: str, problems: ProblemLog
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Epoch microseconds per row and a mask of rows whose time could be read."""
    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    kind = values.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        _from_timestamps(values, zone, column, problems, micros, ok)
    elif pa.types.is_integer(kind):
        _from_epoch(values.cast(pa.int64()), np.arange(n), column, problems, micros, ok)
    else:
        _from_text(values.cast(pa.string()), zone, column, problems, micros, ok)
    return micros, ok


def _from_timestamps(
    values: pa.Array,
    zone: ZoneInfo | None,
    column: str,
    problems: ProblemLog,
    micros: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
) -> None:
    if not (pa.types.is_timestamp(values.type) and values.type.tz is not None):
        # Naive timestamps and dates: the text path applies the zone and explains failures.
        _from_text(values.cast(pa.string()), zone, column, problems, micros, ok)
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
) -> None:
    if text.null_count == 0:
        try:  # the common case, ISO-8601 with offsets throughout, in one vectorised pass
            micros[:] = text.cast(_UTC_US).cast(pa.int64()).to_numpy()
            ok[:] = True
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    is_epoch = pc.match_substring_regex(text, _EPOCH_TEXT).fill_null(False)
    epoch_mask = np.asarray(is_epoch.to_numpy(zero_copy_only=False), dtype=bool)
    if epoch_mask.any():
        rows = np.flatnonzero(epoch_mask)
        numbers = pc.utf8_trim_whitespace(text.filter(is_epoch)).cast(pa.int64())
        _from_epoch(numbers, rows, column, problems, micros, ok)
    if epoch_mask.all():
        return
    rows = np.flatnonzero(~epoch_mask)
    iso = text.filter(pc.invert(is_epoch)) if epoch_mask.any() else text
    parsed = _parse_iso_vectorised(iso, zone)
    if parsed is not None:
        micros[rows] = parsed
        ok[rows] = True
        return
    # Some value defeated the fast parser: read them one by one to say which and why.
    reasons: dict[int, str] = {}
    for row, value in zip(rows.tolist(), iso.to_pylist(), strict=True):
        result = _parse_iso_one(value, zone)
        if isinstance(result, str):
            reasons[row] = result
        else:
            micros[row] = result
            ok[row] = True
    problems.add(np.fromiter(reasons, dtype=np.int64), column, reasons.__getitem__)


def _parse_iso_vectorised(text: pa.Array, zone: ZoneInfo | None) -> npt.NDArray[np.int64] | None:
    if text.null_count:
        return None
    try:
        utc = text.cast(_UTC_US)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if zone is None:
            return None
        try:
            naive = text.cast(pa.timestamp("us"))
            utc = pc.assume_timezone(naive, zone.key, ambiguous="earliest", nonexistent="raise")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return np.asarray(utc.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _parse_iso_one(value: str | None, zone: ZoneInfo | None) -> int | str:
    """Epoch microseconds, or the reason the value is not a usable time."""
    if value is None or not value.strip():
        return "missing time"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return f"not a time: {value!r} (use ISO-8601 with a zone, or epoch s/ms/µs)"
    if moment.tzinfo is None:
        if zone is None:
            return f"{value!r} has no time zone; write an offset (Z, +01:00) or pass --tz"
        local = moment.replace(tzinfo=zone)  # fold=0: an ambiguous time is the earlier one
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
            return f"{value!r} does not exist in {zone.key} (skipped by a clock change)"
        moment = local
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_micros(micros: int) -> str:
    """ISO-8601 UTC text for epoch microseconds, for messages and summaries."""
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.isoformat().replace("+00:00", "Z")

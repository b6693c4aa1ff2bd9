"""velocitas.sessions.encoding: speed max's compact journal rows equal the event models' JSON,
say what one `bar.closed` per bar says, and do not depend on how the bars were batched."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from decimal import Decimal

import numpy as np
import orjson
import pytest

from velocitas.domain.session_events import BarsClosed, parse_session_event
from velocitas.sessions.encoding import RangeText, bars_closed_json
from velocitas.sessions.runner import RUN_BLOCK, SessionRunner
from velocitas.sessions.spec import SessionSpec

from .market import gbm_bars, session_spec


def _instant(at: datetime | str) -> datetime:
    return at if isinstance(at, datetime) else datetime.fromisoformat(at.replace("Z", "+00:00"))


def _market() -> tuple[dict, SessionSpec]:
    bars = {s: gbm_bars(3000, seed=seed, symbol=s) for s, seed in (("AAA", 1), ("BBB", 2))}
    b = bars["BBB"]
    keep = np.arange(2950) % 11 != 5  # BBB misses bars: its runs skip them
    volume = np.where(np.arange(2950) % 7 == 0, 0.0, b.volume[50:])  # zero prints 0.00000000
    bars["BBB"] = type(b)(b.symbol, b.timeframe, b.opened_at[50:][keep], b.open[50:][keep],
                          b.high[50:][keep], b.low[50:][keep], b.close[50:][keep],
                          volume[keep])  # fmt: skip
    legs = [
        ("AAA", "sma_cross", {"fast": 3, "slow": 9}),
        ("BBB", "ema_cross", {"fast": 4, "slow": 12}),
    ]
    return bars, session_spec(legs, stops={"stop_loss": {"kind": "percent", "value": "0.003"}})


CUTS = (0, 10, 200, 1500, 2047, 2999)


def test_encoded_rows_are_the_models_rows() -> None:
    bars, spec = _market()
    models = SessionRunner(uuid.uuid4(), spec, bars)
    fast = SessionRunner(models.session_id, spec, bars)
    expected, got = [], []
    for last in CUTS:
        expected += [(e.type, e.at, e.model_dump(mode="json")) for e in models.step(last)]
        got += [(e.type, _instant(e.at), orjson.loads(e.json)) for e in fast.step_encoded(last)]
    assert got == expected
    kinds = [kind for kind, _, _ in got]
    assert kinds.count("fill") > 5
    assert kinds.count("bars.closed") > 5
    for _, _, payload in got:  # every row is a valid contract
        assert parse_session_event(payload).model_dump(mode="json") == payload


def test_runs_do_not_depend_on_how_the_bars_are_cut() -> None:
    """What a resumed session relies on: cut at other multiples of RUN_BLOCK, the same rows
    (as JSON values: the blanks between tokens depend on the range, and JSONB drops them)."""
    bars, spec = _market()
    whole = SessionRunner(uuid.uuid4(), spec, bars)
    cut = SessionRunner(whole.session_id, spec, bars)
    one = [orjson.loads(e.json) for e in whole.step_encoded(whole.n - 1)]
    many = []
    for last in (RUN_BLOCK - 1, 2 * RUN_BLOCK - 1, cut.n - 1):
        many += [orjson.loads(e.json) for e in cut.step_encoded(last)]
    assert many == one


def test_the_compact_journal_says_what_one_event_per_bar_says() -> None:
    bars, spec = _market()
    compact = SessionRunner(uuid.uuid4(), spec, bars)
    paced = SessionRunner(
        compact.session_id, SessionSpec.model_validate({**spec.model_dump(), "speed": 60}), bars
    )
    assert compact.compact
    assert not paced.compact
    short = [e.model_dump(mode="json") for e in compact.step(compact.n - 1)]
    long = [e.model_dump(mode="json") for e in paced.step(paced.n - 1)]

    def per_bar(events: list[dict]) -> list[dict]:
        out = []
        for e in events:
            if e["type"] != "bars.closed":
                out.append(e)
                continue
            for i, opened in enumerate(e["opened_at"]):
                prices = {k: e[k][i] for k in ("open", "high", "low", "close", "volume")}
                out.append({"opened_at": opened, "symbol": e["symbol"], **prices})
        return out

    def bar_rows(events: list[dict]) -> list[tuple]:
        return sorted(
            (e["symbol"], e["opened_at"], e["open"], e["high"], e["low"], e["close"], e["volume"])
            for e in events if "opened_at" in e
        )  # fmt: skip

    assert len(short) < len(long)
    assert bar_rows(per_bar(short)) == bar_rows(long)
    assert len(bar_rows(long)) == len(bars["AAA"].open) + len(bars["BBB"].open)
    others = [e for e in per_bar(short) if "opened_at" not in e or "type" in e]
    assert [e for e in others if e["type"] != "bar.closed"] == [
        e for e in long if e["type"] != "bar.closed"
    ]


def test_signals_are_journaled_when_the_side_changes() -> None:
    bars, spec = _market()
    runner = SessionRunner(uuid.uuid4(), spec, bars)
    signals = [e for e in runner.step(runner.n - 1) if e.type == "signal"]
    sides = runner.legs.signals
    for leg in (0, 1):
        present = runner.legs.grid.has_bar[:, leg]
        seen = sides[present, leg].astype(int)
        expected = 1 + int(np.count_nonzero(np.diff(seen)))  # the first side, then each change
        journaled = [e.side for e in signals if e.leg == leg]
        assert len(journaled) == expected
        assert all(a != b for a, b in itertools.pairwise(journaled))


@pytest.mark.parametrize(
    "value",
    [0.0, 1e-9, 0.5e-8, 1.5e-8, 2.5e-8, 0.123456785, 1.000000005, 99999999.999999999,
     9999999999.99999999, 3e12, 42000.5, 7.0],
)  # fmt: skip
def test_cells_print_decimals_and_instants_as_the_models_do(value: float) -> None:
    ns = np.array([0, 951_782_400, 1_704_067_200, 9_200_000_000], np.int64) * 1_000_000_000
    values = np.array([value, 100.25, value, 3.5])
    ohlcv = np.stack([values] * 5)[:, :, None]
    text = RangeText(ns, ns + 60_000_000_000, ohlcv, [0])
    at, json = bars_closed_json(text, "AAA", "1m", 0, slice(0, 4))
    event = BarsClosed.model_validate_json(json)
    model = BarsClosed(
        symbol="AAA", timeframe="1m", opened_at=event.opened_at,
        open=[Decimal(f"{v:.8f}") for v in values], high=[Decimal(f"{v:.8f}") for v in values],
        low=[Decimal(f"{v:.8f}") for v in values], close=[Decimal(f"{v:.8f}") for v in values],
        volume=[Decimal(f"{v:.8f}") for v in values], at=_instant(at),
    )  # fmt: skip
    assert orjson.loads(json) == model.model_dump(mode="json")
    assert [t.isoformat() for t in event.opened_at] == [
        "1970-01-01T00:00:00+00:00", "2000-02-29T00:00:00+00:00", "2024-01-01T00:00:00+00:00",
        "2261-07-15T11:33:20+00:00",
    ]  # fmt: skip
    assert at == "2261-07-15T11:34:20Z"

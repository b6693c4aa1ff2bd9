"""velocitas.sessions.encoding: the quiet bars' JSON equals the event models' JSON."""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import orjson

from velocitas.sessions.runner import SessionRunner

from .market import gbm_bars, session_spec


def _instant(at: datetime | str) -> datetime:
    return at if isinstance(at, datetime) else datetime.fromisoformat(at.replace("Z", "+00:00"))


def test_encoded_rows_are_the_models_rows() -> None:
    bars = {s: gbm_bars(400, seed=seed, symbol=s) for s, seed in (("AAA", 1), ("BBB", 2))}
    b = bars["BBB"]
    volume = np.where(
        np.arange(350) % 7 == 0, 0.0, b.volume[50:]
    )  # zero volumes print as 0.00000000
    bars["BBB"] = type(b)(b.symbol, b.timeframe, b.opened_at[50:], b.open[50:], b.high[50:],
                          b.low[50:], b.close[50:], volume)  # fmt: skip
    legs = [
        ("AAA", "sma_cross", {"fast": 3, "slow": 9}),
        ("BBB", "ema_cross", {"fast": 4, "slow": 12}),
    ]
    spec = session_spec(legs, stops={"stop_loss": {"kind": "percent", "value": "0.003"}})
    models = SessionRunner(uuid.uuid4(), spec, bars)
    fast = SessionRunner(models.session_id, spec, bars)
    expected = [(e.type, e.at, e.model_dump(mode="json")) for e in models.step(models.n - 1)]
    got = []
    for last in (0, 10, 200, fast.n - 1):
        got += [(e.type, _instant(e.at), orjson.loads(e.json)) for e in fast.step_encoded(last)]
    assert got == expected
    assert sum(kind == "fill" for kind, _, _ in got) > 5

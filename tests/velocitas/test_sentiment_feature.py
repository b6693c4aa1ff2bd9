"""The analyst's stored sentiment series reaches the observation's sentiment slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from velocitas.db.sentiment import bar_sentiment
from velocitas.domain.bars import BarArrays
from velocitas.features import FeatureSpec, build_features

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _bars(n: int) -> BarArrays:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opened = np.array([int((T0 + timedelta(minutes=i)).timestamp()) * 10**9 for i in range(n)])
    return BarArrays(
        "SYN", "1m", opened.astype(np.int64), close, close * 1.001, close * 0.999, close,
        np.full(n, 10.0),
    )  # fmt: skip


def test_stored_sentiment_fills_the_feature_slot_at_bar_close(database_url: str) -> None:
    bars = _bars(120)
    scored = {40: 0.5, 41: -0.25, 100: 0.75}  # bar index -> score known at that bar's close
    with psycopg.connect(database_url) as conn:
        for index, score in scored.items():
            closed_at = T0 + timedelta(minutes=index + 1)
            conn.execute(
                "INSERT INTO sentiment (symbol, timeframe, at, score, n_docs, method) "
                "VALUES ('SYN', '1m', %s, %s, 3, 'offline')",
                (closed_at, score),
            )
    sentiment = bar_sentiment(bars)
    expected = np.zeros(len(bars))
    for index, score in scored.items():
        expected[index] = score
    np.testing.assert_array_equal(sentiment, expected)

    spec = FeatureSpec()
    features = build_features(bars, spec, sentiment)
    slot = spec.names.index("sentiment")
    for index, score in scored.items():
        assert features[index, slot] == np.float32(score)
    assert features[39, slot] == 0.0

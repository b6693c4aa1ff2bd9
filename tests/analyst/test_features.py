from __future__ import annotations

from datetime import timedelta

import numpy as np
import psycopg
import pytest

from analyst.embeddings import LocalSentenceEmbeddings
from analyst.features import write_series
from analyst.records import NewsRecord
from analyst.scorers import FinanceVaderScorer
from analyst.sentiment import SentimentAnalyst
from analyst.settings import AnalystSettings
from analyst.store import connect, insert_news
from analyst.symbols import SymbolTagger
from tests.analyst.synthetic import EPOCH
from velocitas.db.sentiment import load_sentiment
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest

HOUR = timedelta(hours=1)


def _setup(database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger):
    settings = AnalystSettings(database_url=database_url, sentiment_window="6h")
    with psycopg.connect(database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO bar VALUES ('SYN', '1h', %s, 1, 1, 1, 1, 1)",
            [(EPOCH + i * HOUR,) for i in range(24)],
        )
    records = [
        NewsRecord(
            "Synthetica shares jump after earnings beat",
            "",
            "https://n/1",
            "w",
            EPOCH + 3 * HOUR + timedelta(minutes=30),
            ("SYN",),
        ),
        NewsRecord(
            "Synthetica plunges on fraud probe",
            "",
            "https://n/2",
            "w",
            EPOCH + 12 * HOUR,
            ("SYN",),
        ),
    ]
    with connect(settings) as conn:
        insert_news(conn, records, embeddings.embed_array([r.headline for r in records]))
        conn.commit()
    return SentimentAnalyst(
        embeddings=embeddings, scorer=FinanceVaderScorer(), tagger=tagger, settings=settings
    )


def test_write_series_aligns_to_bar_close_and_reads_back(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    analyst = _setup(database_url, embeddings, tagger)
    report = write_series(analyst, "SYN", Timeframe.H1, EPOCH, EPOCH + 24 * HOUR)
    assert report.bars == 24
    opened_ns = np.array([(i * 3600 + int(EPOCH.timestamp())) * 10**9 for i in range(24)])
    series = load_sentiment("SYN", "1h", opened_ns, database_url=database_url)
    # Bar 3 (03:00-04:00) closes at 04:00, after the 03:30 article; bar 2 closes before it.
    assert series[2] == 0.0
    assert series[3] > 0.3
    # Bar 11 closes at exactly 12:00, the second article's instant (inclusive).
    assert series[11] < 0.0
    # The 6h window: bar 18 closes 19:00, > 6h after both articles.
    assert series[18] == 0.0
    # The shortcuts (no query for empty windows, reuse for unchanged ones) change nothing.
    for i in range(24):
        expected = analyst.score("SYN", EPOCH + (i + 1) * HOUR).score
        assert series[i] == pytest.approx(expected, abs=1e-12)


def test_write_series_twice_is_idempotent(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    analyst = _setup(database_url, embeddings, tagger)
    write_series(analyst, "SYN", Timeframe.H1, EPOCH, EPOCH + 24 * HOUR)
    with psycopg.connect(database_url) as conn:
        first = conn.execute("SELECT * FROM sentiment ORDER BY at").fetchall()
        write_series(analyst, "SYN", Timeframe.H1, EPOCH, EPOCH + 24 * HOUR)
        second = conn.execute("SELECT * FROM sentiment ORDER BY at").fetchall()
    assert first == second
    assert len(first) == 24


def test_write_series_without_bars_is_invalid_request(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    analyst = _setup(database_url, embeddings, tagger)
    with pytest.raises(InvalidRequest):
        write_series(analyst, "SYN", Timeframe.D1, EPOCH, EPOCH + 24 * HOUR)


def test_load_sentiment_zero_where_nothing_stored(database_url: str) -> None:
    opened = np.array([0, 3600 * 10**9], dtype=np.int64)
    assert load_sentiment("SYN", "1h", opened, database_url=database_url).tolist() == [0.0, 0.0]
    assert (
        load_sentiment("SYN", "1h", np.array([], dtype=np.int64), database_url=database_url).size
        == 0
    )

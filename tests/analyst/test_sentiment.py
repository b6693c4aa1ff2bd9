from __future__ import annotations

from datetime import timedelta

import pytest

from analyst.embeddings import LocalSentenceEmbeddings
from analyst.records import NewsRecord
from analyst.scorers import FinanceVaderScorer
from analyst.sentiment import SentimentAnalyst, combine
from analyst.settings import AnalystSettings
from analyst.store import connect, insert_news
from analyst.symbols import SymbolTagger
from tests.analyst.synthetic import EPOCH


def test_combine_weights_by_similarity_and_half_life() -> None:
    # Same similarity; the older article is one half-life old, so it weighs half.
    value = combine([1.0, -1.0], [0.5, 0.5], [0.0, 24.0], half_life_hours=24.0)
    assert value == pytest.approx((1.0 - 0.5) / 1.5)
    # Similarity scales the weight too.
    assert combine([1.0, -1.0], [0.9, 0.3], [0.0, 0.0], half_life_hours=24.0) == pytest.approx(
        0.6 / 1.2
    )


def test_combine_no_articles_is_zero_and_output_is_clamped() -> None:
    assert combine([], [], [], half_life_hours=24.0) == 0.0
    assert combine([1.0], [0.0], [0.0], half_life_hours=24.0) == 1.0  # zero weight: plain mean


def _analyst(database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger):
    settings = AnalystSettings(database_url=database_url)
    return SentimentAnalyst(
        embeddings=embeddings, scorer=FinanceVaderScorer(), tagger=tagger, settings=settings
    )


def _store(database_url: str, embeddings: LocalSentenceEmbeddings, items: list) -> None:
    records = [
        NewsRecord(h, "", f"https://n.test/{i}", "wire", EPOCH + offset, (sym,))
        for i, (h, sym, offset) in enumerate(items)
    ]
    with connect(AnalystSettings(database_url=database_url)) as conn:
        insert_news(conn, records, embeddings.embed_array([r.headline for r in records]))
        conn.commit()


def test_score_point_in_time_ignores_later_and_other_symbols(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    _store(
        database_url,
        embeddings,
        [
            ("Synthetica shares jump after earnings beat", "SYN", timedelta(hours=1)),
            ("Synthetica plunges as regulators open fraud probe", "SYN", timedelta(hours=5)),
            ("Bitcoin crashes below support", "BTCUSD", timedelta(hours=2)),
        ],
    )
    analyst = _analyst(database_url, embeddings, tagger)
    early = analyst.score("SYN", EPOCH + timedelta(hours=2))
    assert early.n_docs == 1
    assert early.score > 0.3
    later = analyst.score("syn", EPOCH + timedelta(hours=6))
    assert later.n_docs == 2
    assert later.score < early.score  # the newer, negative article weighs more
    assert later.method == "vader+finance"


def test_score_without_news_is_zero_with_no_docs(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    result = _analyst(database_url, embeddings, tagger).score("SYN", EPOCH)
    assert (result.score, result.n_docs) == (0.0, 0)

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from langchain_core.documents import Document
from psycopg.pq import TransactionStatus

from analyst import sample_news
from analyst.embeddings import LocalSentenceEmbeddings
from analyst.ingest import embedding_text
from analyst.news_retriever import NewsRetriever
from analyst.records import NewsRecord, parse_record
from analyst.retrieval import any_news, choose_strategy, search, search_vector
from analyst.store import connect, insert_news
from tests.analyst.synthetic import EPOCH, brute_force, clustered_unit_vectors, store_corpus
from velocitas.errors import InvalidRequest
from velocitas.settings import Settings


def test_search_vector_filtered_equals_brute_force_top_k(database_url: str) -> None:
    corpus = store_corpus(database_url, 1500)
    rng = np.random.default_rng(2)
    settings = Settings(database_url=database_url)
    queries = clustered_unit_vectors(rng, 30)
    for i, query in enumerate(queries):
        at = EPOCH + timedelta(seconds=int(rng.integers(86_400, 30 * 86_400)))
        window = [timedelta(days=3), timedelta(hours=12), None][i % 3]
        symbol = ["AAA", "CCC", None][(i // 3) % 3]
        hits = search_vector(query, at=at, window=window, symbol=symbol, k=10, settings=settings)
        expected = brute_force(corpus, query, at=at, window=window, symbol=symbol, k=10)
        assert [hit.id for hit in hits] == expected
        assert all(hit.published_at <= at for hit in hits)


def test_search_vector_never_returns_articles_after_at(database_url: str) -> None:
    corpus = store_corpus(database_url, 500)
    settings = Settings(database_url=database_url)
    newest_first = np.argsort(-corpus.published)
    # The query IS a future article's vector: the best match must still be excluded.
    future = newest_first[0]
    at = EPOCH + timedelta(seconds=int(corpus.published[future]) - 1)
    hits = search_vector(corpus.vectors[future], at=at, k=50, settings=settings)
    assert hits
    assert future + 1 not in [hit.id for hit in hits]
    assert max(hit.published_at for hit in hits) <= at


def test_choose_strategy_uses_hnsw_only_when_filter_removes_nothing(database_url: str) -> None:
    corpus = store_corpus(database_url, 200)
    after_all = EPOCH + timedelta(days=31)
    before_newest = EPOCH + timedelta(seconds=int(corpus.published.max()) - 1)
    with connect(Settings(database_url=database_url)) as conn:
        assert choose_strategy(conn, after_all, None, None) == "hnsw"
        assert choose_strategy(conn, after_all, None, "AAA") == "exact"
        assert choose_strategy(conn, before_newest, None, None) == "exact"
        assert choose_strategy(conn, after_all, after_all - timedelta(days=3), None) == "exact"


def test_search_vector_unfiltered_hnsw_recall_at_least_95_percent(database_url: str) -> None:
    corpus = store_corpus(database_url, 1500)
    settings = Settings(database_url=database_url)
    at = EPOCH + timedelta(days=31)
    rng = np.random.default_rng(3)
    found = 0
    queries = clustered_unit_vectors(rng, 20)
    for query in queries:
        hits = search_vector(query, at=at, k=10, settings=settings, strategy="hnsw")
        expected = brute_force(corpus, query, at=at, window=None, symbol=None, k=10)
        found += len({hit.id for hit in hits} & set(expected))
    assert found / (10 * len(queries)) >= 0.95


def test_search_vector_empty_window_returns_nothing(database_url: str) -> None:
    store_corpus(database_url, 100)
    hits = search_vector(
        np.ones(384, dtype=np.float32) / np.sqrt(384),
        at=EPOCH - timedelta(days=1),
        window=timedelta(days=1),
        settings=Settings(database_url=database_url),
    )
    assert hits == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"at": EPOCH.replace(tzinfo=None)}, "at"),
        ({"at": EPOCH, "k": 0}, "k"),
        ({"at": EPOCH, "window": timedelta(0)}, "window"),
    ],
)
def test_search_vector_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        search_vector(np.zeros(384, dtype=np.float32), **kwargs)
    assert error.value.field == field


def _store_texts(database_url: str, embeddings: LocalSentenceEmbeddings) -> None:
    headlines = [
        ("Apple shares crash after iPhone recall", ("AAPL",), 1),
        ("Apple unveils new MacBook lineup", ("AAPL",), 2),
        ("Bitcoin slumps as exchange halts withdrawals", ("BTCUSD",), 3),
        ("Apple stock plunges on antitrust ruling", ("AAPL",), 10),  # after `at` below
    ]
    records = [
        NewsRecord(h, "", f"https://example.test/{i}", "wire", EPOCH + timedelta(days=d), s)
        for i, (h, s, d) in enumerate(headlines)
    ]
    with connect(Settings(database_url=database_url)) as conn:
        insert_news(conn, records, embeddings.embed_array([r.headline for r in records]))
        conn.commit()


def test_search_ranks_by_meaning_as_of_at(
    database_url: str, embeddings: LocalSentenceEmbeddings
) -> None:
    _store_texts(database_url, embeddings)
    hits = search(
        "Apple crash",
        at=EPOCH + timedelta(days=5),
        window=timedelta(days=7),
        embeddings=embeddings,
        settings=Settings(database_url=database_url),
    )
    assert hits[0].headline == "Apple shares crash after iPhone recall"
    assert "Apple stock plunges on antitrust ruling" not in [h.headline for h in hits]


def test_news_retriever_returns_langchain_documents(
    database_url: str, embeddings: LocalSentenceEmbeddings
) -> None:
    _store_texts(database_url, embeddings)
    retriever = NewsRetriever(
        embeddings=embeddings,
        at=EPOCH + timedelta(days=5),
        symbol="AAPL",
        window=timedelta(days=7),
        k=5,
        database_url=database_url,
    )
    documents = retriever.invoke("Apple crash")
    assert all(isinstance(d, Document) for d in documents)
    assert [d.metadata["headline"] for d in documents] == [
        "Apple shares crash after iPhone recall",
        "Apple unveils new MacBook lineup",
    ]


def test_search_vector_inside_callers_transaction_leaves_it_open(database_url: str) -> None:
    corpus = store_corpus(database_url, 50)
    with connect(Settings(database_url=database_url)) as conn:
        conn.execute("CREATE TEMP TABLE scratch (x int)")  # the caller's uncommitted work
        hits = search_vector(corpus.vectors[0], at=EPOCH + timedelta(days=31), k=1, conn=conn)
        assert [hit.id for hit in hits] == [1]
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        conn.execute("SELECT * FROM scratch")  # still there: nothing was committed or lost


def _store_sample_news(database_url: str, embeddings: LocalSentenceEmbeddings) -> list[dict]:
    generated = list(sample_news.generate(EPOCH, EPOCH + timedelta(days=19), seed=7))
    records = [parse_record(r) for r in generated]
    with connect(Settings(database_url=database_url)) as conn:
        insert_news(conn, records, embeddings.embed_array([embedding_text(r) for r in records]))
        conn.commit()
    return generated


@pytest.mark.parametrize("day", [15, 19])
def test_search_price_crash_ranks_crash_and_fall_headlines_first(
    database_url: str, embeddings: LocalSentenceEmbeddings, day: int
) -> None:
    tone_of = {r["headline"]: r["tone"] for r in _store_sample_news(database_url, embeddings)}
    kwargs = {
        "at": EPOCH + timedelta(days=day),
        "window": timedelta(days=3),
        "embeddings": embeddings,
        "settings": Settings(database_url=database_url),
    }
    # Similarity alone puts a "hits new high" headline first (embeddings barely encode tone):
    # the case this test guards.
    plain = search("price crash", k=3, tone_aware=False, **kwargs)
    assert "hits new high" in plain[0].headline
    hits = search("price crash", k=3, **kwargs)
    assert [tone_of[hit.headline] for hit in hits] == ["negative"] * 3
    assert [hit.relevance for hit in hits] == sorted((hit.relevance for hit in hits), reverse=True)
    # A query without a tone keeps the similarity order.
    neutral = search("Bitcoin news", k=5, **kwargs)
    assert neutral == search("Bitcoin news", k=5, tone_aware=False, **kwargs)
    assert all(hit.relevance == hit.similarity for hit in neutral)


def test_any_news_follows_the_search_filter(database_url: str) -> None:
    corpus = store_corpus(database_url, 50)
    settings = Settings(database_url=database_url)
    first = EPOCH + timedelta(seconds=int(corpus.published.min()))
    assert not any_news(at=first - timedelta(seconds=1), settings=settings)
    assert any_news(at=first, settings=settings)
    assert not any_news(at=first, symbol="ZZZ", settings=settings)
    with connect(settings) as conn:
        assert any_news(at=first, window=timedelta(seconds=1), conn=conn)
        assert conn.info.transaction_status == TransactionStatus.IDLE

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from analyst.app import create_app
from analyst.embeddings import LocalSentenceEmbeddings
from analyst.scorers import FinanceVaderScorer
from analyst.sentiment import SentimentAnalyst
from analyst.settings import AnalystSettings
from analyst.symbols import SymbolTagger
from tests.support.keys import new_key_headers
from velocitas.db.accounts import forget_cached_keys
from velocitas.domain.roles import Role

_JSON = {"headers": {"content-type": "application/json"}}
ARTICLES = [
    {
        "headline": "Apple shares crash after iPhone recall",
        "url": "https://n.test/1",
        "source": "wire",
        "published_at": "2024-01-02T10:00:00Z",
    },
    {
        "headline": "Apple beats estimates and raises guidance",
        "url": "https://n.test/2",
        "source": "wire",
        "published_at": "2024-01-03T10:00:00+01:00",
        "symbols": ["aapl"],
    },
]


@pytest.fixture
def client(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> TestClient:
    analyst = SentimentAnalyst(
        embeddings=embeddings,
        scorer=FinanceVaderScorer(),
        tagger=tagger,
        settings=AnalystSettings(database_url=database_url),
    )
    forget_cached_keys()
    # A data-writer: most tests here store news first.
    return TestClient(create_app(analyst), headers=new_key_headers(role=Role.DATA_WRITER))


def test_health_answers_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/news", {"json": {"articles": ARTICLES}}),
        ("get", "/news/search", {"params": {"q": "Apple", "at": "2024-01-04T00:00:00Z"}}),
        ("get", "/sentiment", {"params": {"symbol": "AAPL", "at": "2024-01-04T00:00:00Z"}}),
    ],
)
def test_routes_without_a_valid_key_answer_401_and_store_nothing(
    client: TestClient, method: str, path: str, kwargs: dict
) -> None:
    for key in ("", "Bearer vk_AAAAAAAA_not-a-real-key-at-all"):
        response = getattr(client, method)(path, headers={"Authorization": key}, **kwargs)
        assert response.status_code == 401, response.text
    found = client.get("/news/search", params={"q": "Apple", "at": "2025-01-01T00:00:00Z"})
    assert found.json()["hits"] == []


def test_a_plain_user_may_search_news_but_not_write_it(client: TestClient) -> None:
    """News moves every user's sentiment feature, as bars move their prices: writing it takes
    the data-writer role; reading it does not."""
    plain = new_key_headers(role=Role.USER)
    refused = client.post("/news", json={"articles": ARTICLES}, headers=plain)
    assert refused.status_code == 403, refused.text
    assert "data-writer" in refused.json()["detail"]
    assert "velocitas user role" in refused.json()["detail"]
    search = {"q": "Apple", "at": "2024-01-04T00:00:00Z"}
    assert client.get("/news/search", params=search, headers=plain).json()["hits"] == []
    assert client.post("/news", json={"articles": ARTICLES}).json()["inserted"] == 2
    assert len(client.get("/news/search", params=search, headers=plain).json()["hits"]) == 2


def test_a_body_past_the_cap_is_refused_413(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    settings = AnalystSettings(database_url=database_url, analyst_max_body_bytes=2048)
    analyst = SentimentAnalyst(
        embeddings=embeddings, scorer=FinanceVaderScorer(), tagger=tagger, settings=settings
    )
    client = TestClient(create_app(analyst), headers=new_key_headers(role=Role.DATA_WRITER))
    many = {"articles": [ARTICLES[0] | {"url": f"https://n.test/{i}"} for i in range(40)]}
    response = client.post("/news", json=many)
    assert response.status_code == 413
    assert "ANALYST_MAX_BODY_BYTES" in response.json()["detail"]


def test_post_news_then_search_point_in_time(client: TestClient) -> None:
    created = client.post("/news", json={"articles": ARTICLES})
    assert created.status_code == 200
    assert created.json() == {"read": 2, "inserted": 2, "duplicates": 0}
    assert client.post("/news", json={"articles": ARTICLES}).json()["inserted"] == 0
    found = client.get(
        "/news/search", params={"q": "Apple crash", "at": "2024-01-02T12:00:00Z", "symbol": "AAPL"}
    )
    assert found.status_code == 200
    assert [h["headline"] for h in found.json()["hits"]] == [ARTICLES[0]["headline"]]
    later = client.get("/news/search", params={"q": "Apple", "at": "2024-01-04T00:00:00Z"})
    assert len(later.json()["hits"]) == 2


def test_get_sentiment_scores_and_counts(client: TestClient) -> None:
    client.post("/news", json={"articles": ARTICLES})
    body = client.get("/sentiment", params={"symbol": "AAPL", "at": "2024-01-02T12:00:00Z"}).json()
    assert body["n_docs"] == 1
    assert body["score"] < 0
    empty = client.get("/sentiment", params={"symbol": "SYN", "at": "2024-01-02T12:00:00Z"}).json()
    assert (empty["score"], empty["n_docs"]) == (0.0, 0)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/sentiment", {"params": {"symbol": "AAPL", "at": "2024-01-02T12:00:00"}}, "at"),
        ("get", "/sentiment", {"params": {"at": "2024-01-02T12:00:00Z"}}, "symbol"),
        ("get", "/news/search", {"params": {"q": "x", "at": "2024-01-02T12:00:00Z", "k": 0}}, "k"),
        (
            "get",
            "/news/search",
            {"params": {"q": "x", "at": "2024-01-02T12:00:00Z", "window": "soon"}},
            "window",
        ),
        (
            "post",
            "/news",
            {"json": {"articles": [ARTICLES[0] | {"published_at": "2024-01-02T10:00:00"}]}},
            "published_at",
        ),
        (
            "post",
            "/news",
            {"json": {"articles": [ARTICLES[0] | {"symbols": ["NOT A SYMBOL"]}]}},
            "symbols",
        ),
        # issue 12: each of these answered 500 (NUL into PostgreSQL, overflowing instants)
        ("get", "/sentiment", {"params": {"symbol": "AAPL", "at": "0001-01-01T00:00:00Z"}}, "at"),
        ("get", "/news/search", {"params": {"q": "x", "at": "0001-01-01T00:00:00Z"}}, "at"),
        ("get", "/news/search", {"params": {"q": "x\x00", "at": "2024-01-02T12:00:00Z"}}, "q"),
        (
            "get",
            "/news/search",
            {"params": {"q": "x", "at": "2024-01-02T12:00:00Z", "window": "999999y"}},
            "window",
        ),
        (
            "post",
            "/news",
            {"json": {"articles": [ARTICLES[0] | {"headline": "a\x00b"}]}},
            "headline",
        ),
        (
            "post",
            "/news",
            {"content": json.dumps({"articles": [ARTICLES[0] | {"body": "\ud800"}]}), **_JSON},
            "body",
        ),
        (
            "post",
            "/news",
            {"json": {"articles": [ARTICLES[0] | {"published_at": "0001-01-01T00:00:00Z"}]}},
            "published_at",
        ),
        (
            "post",
            "/news",
            {"content": b'{"articles": [{"headline": "h", "source": "s", "published_at": NaN}]}'}
            | _JSON,
            "published_at",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, method: str, path: str, kwargs: dict, field: str
) -> None:
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 422
    assert any(field in detail["loc"] for detail in response.json()["detail"])


def test_post_news_invalid_article_stores_nothing(client: TestClient) -> None:
    bad = ARTICLES[1] | {"published_at": "2024-01-03T10:00:00"}
    assert client.post("/news", json={"articles": [ARTICLES[0], bad]}).status_code == 422
    hits = client.get(
        "/news/search", params={"q": "Apple", "at": "2025-01-01T00:00:00Z", "window": ""}
    )
    assert hits.json()["hits"] == []

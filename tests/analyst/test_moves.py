"""`GET /news/moves` on the real database: unusual bars tagged by the stored news before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from analyst.app import create_app
from analyst.embeddings import LocalSentenceEmbeddings
from analyst.records import NewsRecord
from analyst.scorers import FinanceVaderScorer
from analyst.sentiment import SentimentAnalyst
from analyst.settings import AnalystSettings
from analyst.store import connect, insert_news
from analyst.symbols import SymbolTagger
from tests.support.keys import new_key_headers
from velocitas.db.accounts import forget_cached_keys
from velocitas.domain.roles import Role
from velocitas.ingest import import_bars
from velocitas.settings import Settings

T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
JUMPS = {150: 0.05, 200: -0.05, 260: 0.05}  # bar index: its log return (calm bars: ~0.001)


def _bars_csv() -> bytes:
    rng = np.random.default_rng(4)
    returns = rng.normal(0, 0.001, 300)
    for i, r in JUMPS.items():
        returns[i] = r
    close = 100 * np.exp(np.cumsum(returns))
    lines = ["time,open,high,low,close,volume"]
    previous = 100.0
    for i, c in enumerate(close):
        lines.append(
            f"{(T0 + i * HOUR).isoformat()},{previous:.8f},{max(previous, c) * 1.0005:.8f},"
            f"{min(previous, c) * 0.9995:.8f},{c:.8f},1"
        )
        previous = float(f"{c:.8f}")
    return ("\n".join(lines) + "\n").encode()


def _article(i: int, headline: str, published: datetime) -> dict[str, object]:
    return {
        "headline": headline,
        "url": f"https://n.test/{i}",
        "source": "wire",
        "published_at": published.isoformat(),
        "symbols": ["BTCUSD"],
    }


@pytest.fixture
def client(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> TestClient:
    import_bars(_bars_csv(), symbol="BTCUSD", timeframe="1h", fmt="csv", database_url=database_url)
    analyst = SentimentAnalyst(
        embeddings=embeddings,
        scorer=FinanceVaderScorer(),
        tagger=tagger,
        settings=AnalystSettings(database_url=database_url),
    )
    forget_cached_keys()
    return TestClient(create_app(analyst), headers=new_key_headers(role=Role.DATA_WRITER))


def _moves(client: TestClient, **params: str) -> list[dict[str, object]]:
    query = {"symbol": "BTCUSD", "start": "2024-01-03T00:00Z", "end": "2024-01-14T00:00Z"}
    response = client.get("/news/moves", params=query | params)
    assert response.status_code == 200, response.text
    moves: list[dict[str, object]] = response.json()["moves"]
    return moves


def test_news_moves_tag_each_jump_with_the_news_before_its_close(
    client: TestClient, database_url: str
) -> None:
    close_of = {i: T0 + (i + 1) * HOUR for i in JUMPS}
    articles = [
        _article(1, "Bitcoin rallies as ETF inflows surge to record", close_of[150] - 3 * HOUR),
        _article(2, "Exchange hacked, bitcoin plunges on fraud fears", close_of[200] - HOUR / 2),
        # after the close of bar 260: the news came after the move, so it does not explain it
        _article(3, "Bitcoin soars to record high", close_of[260] + timedelta(minutes=1)),
    ]
    assert client.post("/news", json={"articles": articles}).status_code == 200
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT url, sentiment_score, sentiment_method FROM news ORDER BY url"
        ).fetchall()
    assert [(url, method) for url, _, method in stored] == [
        (f"https://n.test/{i}", "vader+finance") for i in (1, 2, 3)
    ]
    assert stored[0][1] > 0.05 > -0.05 > stored[1][1]  # scored at ingest

    moves = _moves(client)
    assert [m["opened_at"] for m in moves] == [
        (T0 + i * HOUR).isoformat().replace("+00:00", "Z") for i in JUMPS
    ]
    assert [m["tag"] for m in moves] == ["good news", "bad news", "no news"]
    assert [m["direction"] for m in moves] == ["up", "down", "up"]
    assert [m["agrees"] for m in moves] == [True, True, None]
    assert moves[0]["net_sentiment"] == pytest.approx(stored[0][1], abs=1e-6)
    assert [a["id"] for a in moves[1]["articles"]] == [2]  # type: ignore[index]
    assert all(abs(m["z"]) > 3 for m in moves)  # type: ignore[arg-type]
    # a window too short for article 1 (3 h before the close) leaves bar 150 without news
    assert _moves(client, window="2h")[0]["tag"] == "no news"
    # a higher threshold keeps only bigger moves; cutting the range drops the later bars
    assert _moves(client, k="100") == []
    assert len(_moves(client, end="2024-01-09T12:00Z")) == 2
    # instants far beyond any bar (int64 nanoseconds hold 1678 to 2261) are no error
    assert len(_moves(client, start="1000-01-01T00:00Z", end="8999-01-01T00:00Z")) == 3


def test_news_moves_score_unscored_articles_once_and_keep_the_score(
    client: TestClient, database_url: str
) -> None:
    record = NewsRecord(
        headline="Bitcoin crashes after exchange collapse",
        body="",
        url="https://n.test/old",
        source="wire",
        published_at=T0 + 200 * HOUR,
        symbols=("BTCUSD",),
    )
    with connect(Settings(database_url=database_url)) as conn:
        insert_news(conn, [record], np.zeros((1, 384), dtype=np.float32) + 0.05)
        conn.commit()
    query = "SELECT sentiment_score, sentiment_method FROM news"
    with psycopg.connect(database_url) as conn:
        assert conn.execute(query).fetchall() == [(None, None)]  # stored before scores were kept
    assert _moves(client)[1]["tag"] == "bad news"
    with psycopg.connect(database_url) as conn:
        ((score, method),) = conn.execute(query).fetchall()
        assert (score < -0.05, method) == (True, "vader+finance")
        conn.execute("UPDATE news SET sentiment_score = 0.9")  # a stored score is never redone
    assert _moves(client)[1]["tag"] == "good news"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"symbol": "ETHUSD"}, "symbol"),
        ({"window": "soon"}, "window"),
        ({"end": "2024-01-02T00:00Z"}, "end"),
        ({"k": "0"}, "k"),
        ({"timeframe": "2h"}, "timeframe"),
    ],
)
def test_news_moves_bad_query_is_422_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    query = {"symbol": "BTCUSD", "start": "2024-01-03T00:00Z", "end": "2024-01-14T00:00Z"}
    response = client.get("/news/moves", params=query | params)
    assert response.status_code == 422, response.text
    assert [p["loc"] for p in response.json()["detail"]] == [["query", field]]

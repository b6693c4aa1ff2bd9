"""The analyst's `/health` (liveness) and `/ready` (database and schema), and its answer when
the database is unreachable."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from analyst.app import create_app
from analyst.embeddings import LocalSentenceEmbeddings
from analyst.scorers import FinanceVaderScorer
from analyst.sentiment import SentimentAnalyst
from analyst.settings import AnalystSettings
from analyst.symbols import SymbolTagger
from tests.support.keys import UNCHECKABLE_KEY
from tests.support.ports import free_port


def _client(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> TestClient:
    analyst = SentimentAnalyst(
        embeddings=embeddings,
        scorer=FinanceVaderScorer(),
        tagger=tagger,
        settings=AnalystSettings(database_url=database_url),
    )
    return TestClient(create_app(analyst))


def test_ready_when_the_database_and_its_schema_answer(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    with _client(database_url, embeddings, tagger) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


def test_database_unreachable_answers_503_with_retry_after_and_no_address(
    embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    socket_dir = tmp_path / "no-postgres-here"
    socket_dir.mkdir()
    url = f"postgresql://velocitas@/velocitas?host={socket_dir}"
    with _client(url, embeddings, tagger) as client:
        ready = client.get("/ready")
        health = client.get("/health")
        sentiment = client.get(
            "/sentiment",
            params={"symbol": "AAPL", "at": "2024-01-02T12:00:00Z"},
            headers=UNCHECKABLE_KEY,  # well-formed: checking it needs the database, which is down
        )
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert health.status_code == 200
    assert sentiment.status_code == 503
    assert int(sentiment.headers["Retry-After"]) > 0
    assert sentiment.json() == {"detail": "the database is unavailable, retry later"}
    for response in (ready, sentiment):
        assert str(tmp_path) not in response.text


def test_ready_answers_503_on_a_port_nobody_serves(
    embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger
) -> None:
    port = free_port()
    with _client(
        f"postgresql://velocitas@127.0.0.1:{port}/velocitas", embeddings, tagger
    ) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert str(port) not in ready.text

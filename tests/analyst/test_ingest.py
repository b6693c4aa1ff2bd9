from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyst.embeddings import LocalSentenceEmbeddings
from analyst.ingest import ingest_file
from analyst.store import connect
from analyst.symbols import SymbolTagger
from velocitas.errors import InvalidFile
from velocitas.settings import Settings


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _article(n: int, **overrides: object) -> dict:
    record = {
        "headline": f"Apple headline number {n}",
        "body": "Body text.",
        "url": f"https://news.test/{n}",
        "source": "wire",
        "published_at": f"2024-01-0{1 + n % 9}T12:00:00Z",
    }
    return record | overrides


def _rows(database_url: str) -> list[tuple]:
    with connect(Settings(database_url=database_url)) as conn:
        return conn.execute(
            "SELECT url, headline, symbols, vector_dims(embedding), "
            "round((embedding <#> embedding)::numeric, 4) FROM news ORDER BY url"
        ).fetchall()


def test_ingest_file_stores_tags_and_embeds_normalised(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = _write_jsonl(
        tmp_path / "n.jsonl", [_article(1), _article(2, symbols=["MSFT"]), _article(3)]
    )
    report = ingest_file(path, embeddings=embeddings, tagger=tagger)
    assert (report.read, report.inserted, report.duplicates) == (3, 3, 0)
    rows = _rows(database_url)
    assert [r[2] for r in rows] == [["AAPL"], ["MSFT"], ["AAPL"]]
    assert {r[3] for r in rows} == {384}
    assert {float(r[4]) for r in rows} == {-1.0}  # <#> is the negative inner product: unit rows


def test_ingest_file_twice_changes_nothing(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = _write_jsonl(tmp_path / "n.jsonl", [_article(n) for n in range(5)])
    ingest_file(path, embeddings=embeddings, tagger=tagger)
    before = _rows(database_url)
    again = ingest_file(path, embeddings=embeddings, tagger=tagger)
    assert (again.inserted, again.duplicates) == (0, 5)
    assert _rows(database_url) == before


def test_ingest_file_dedups_by_url_and_by_source_headline(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = _write_jsonl(
        tmp_path / "n.jsonl",
        [
            _article(1),
            _article(2, url="https://news.test/1"),  # same url
            _article(3, headline="Apple headline number 1"),  # same source + headline
            _article(4, headline="Apple headline number 1", source="other"),  # other source: kept
        ],
    )
    report = ingest_file(path, embeddings=embeddings, tagger=tagger)
    assert (report.inserted, report.duplicates) == (2, 2)
    assert [r[0] for r in _rows(database_url)] == ["https://news.test/1", "https://news.test/4"]


def test_ingest_file_bad_record_stores_nothing_and_names_line(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = _write_jsonl(
        tmp_path / "n.jsonl",
        [_article(1), _article(2, published_at="2024-01-02T12:00:00"), _article(3)],
    )
    with pytest.raises(InvalidFile) as error:
        ingest_file(path, embeddings=embeddings, tagger=tagger)
    [problem] = error.value.problems
    assert (problem.row, problem.column) == (2, "published_at")
    assert _rows(database_url) == []


def test_ingest_file_skip_invalid_stores_the_rest_and_lists_skipped(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = _write_jsonl(tmp_path / "n.jsonl", [_article(1), _article(2, headline=""), _article(3)])
    report = ingest_file(path, embeddings=embeddings, tagger=tagger, skip_invalid=True)
    assert report.inserted == 2
    assert [(p.row, p.column) for p in report.skipped] == [(2, "headline")]
    assert len(_rows(database_url)) == 2


def test_ingest_file_rss_tags_from_categories(
    database_url: str, embeddings: LocalSentenceEmbeddings, tagger: SymbolTagger, tmp_path: Path
) -> None:
    path = tmp_path / "feed.rss"
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><title>Crypto markets steady</title><link>https://w/1</link>"
        "<pubDate>Tue, 02 Jan 2024 16:00:00 GMT</pubDate>"
        "<category>BTCUSD</category><category>Markets</category></item>"
        "</channel></rss>"
    )
    report = ingest_file(path, embeddings=embeddings, tagger=tagger)
    assert report.inserted == 1
    assert _rows(database_url)[0][2] == ["BTCUSD"]

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from analyst import sample_news
from analyst.records import parse_record
from analyst.scorers import FinanceVaderScorer, label_of

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)


def test_write_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    sample_news.write(a, START, END, seed=3)
    sample_news.write(b, START, END, seed=3)
    sample_news.write(c, START, END, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_write_records_are_valid_in_range_and_cover_both_symbols(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    count = sample_news.write(path, START, END, seed=1)
    records = [parse_record(json.loads(line)) for line in path.read_text().splitlines()]
    assert len(records) == count > 100
    assert all(START <= r.published_at < END for r in records)
    assert {s for r in records for s in r.symbols} == {"SYN", "BTCUSD"}
    tones = {json.loads(line)["tone"] for line in path.read_text().splitlines()}
    assert tones == {"positive", "negative", "neutral"}


def test_every_sample_headline_scores_with_its_tone() -> None:
    # The sample news is the demo of the sentiment feature: the offline scorer must read each
    # template the way the generator labelled it (it read "hits new high as buyers return" as
    # 0 and "Traders await direction" as positive before issue 11).
    scorer = FinanceVaderScorer()
    records = list(sample_news.generate(START, END, seed=1))
    wrong = [
        (r["tone"], r["headline"])
        for r in records
        if label_of(scorer.score_text(r["headline"])) != r["tone"]
    ]
    assert wrong == []
    templates = {t for c in sample_news.TEMPLATES.values() for ts in c.values() for t in ts}
    for template in templates:
        for name in ("Bitcoin", "BTC", "Synthetica", "SYN"):
            headline = template.format(s=name, p=7)
            tone = next(
                tone
                for c in sample_news.TEMPLATES.values()
                for tone, ts in c.items()
                if template in ts
            )
            assert label_of(scorer.score_text(headline)) == tone, headline


def test_crypto_headlines_use_crypto_vocabulary() -> None:
    records = list(sample_news.generate(START, END, seed=1))
    crypto = [r["headline"].lower() for r in records if r["symbols"] == ["BTCUSD"]]
    equity = [r["headline"].lower() for r in records if r["symbols"] == ["SYN"]]
    assert crypto
    assert equity
    for word in ("shares", "earnings", "guidance", "price target", "profit margins"):
        assert not any(word in h for h in crypto), word
    assert any("shares" in h for h in equity)

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from analyst import sample_news
from analyst.records import parse_record

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

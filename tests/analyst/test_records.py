from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyst.records import FieldError, parse_instant, parse_record, read_fields
from velocitas.errors import InvalidRequest

RSS = """<?xml version="1.0"?>
<rss version="2.0">
<channel>
  <title>Sample Wire</title>
  <item>
    <title>Apple beats estimates</title>
    <link>https://wire.example/1</link>
    <description>Record quarter.</description>
    <pubDate>Tue, 02 Jan 2024 15:04:05 +0000</pubDate>
  </item>
  <item>
    <title>Bitcoin steady</title>
    <link>https://wire.example/2</link>
    <pubDate>Tue, 02 Jan 2024 16:00:00 GMT</pubDate>
    <category>BTCUSD</category>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Desk</title>
  <entry>
    <title>Tesla misses delivery estimates</title>
    <link href="https://atom.example/a"/>
    <updated>2024-01-03T09:00:00+01:00</updated>
    <summary>Shares slide.</summary>
  </entry>
</feed>
"""


def _parsed(path: Path) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for line, fields in read_fields(path):
        out.append((line, fields if isinstance(fields, FieldError) else parse_record(fields)))
    return out


def test_read_fields_rss_items_with_lines_and_channel_source(tmp_path: Path) -> None:
    path = tmp_path / "feed.rss"
    path.write_text(RSS)
    parsed = _parsed(path)
    assert [line for line, _ in parsed] == [5, 11]
    first = parsed[0][1]
    assert first.headline == "Apple beats estimates"  # type: ignore[attr-defined]
    assert first.source == "Sample Wire"  # type: ignore[attr-defined]
    assert first.published_at == datetime(2024, 1, 2, 15, 4, 5, tzinfo=UTC)  # type: ignore[attr-defined]
    assert parsed[1][1].symbols == ()  # type: ignore[attr-defined]
    assert parsed[1][1].categories == ("BTCUSD",)  # type: ignore[attr-defined]


def test_read_fields_feed_with_entity_declaration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.rss"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">]>'
        "<rss><channel><title>&a;</title></channel></rss>"
    )
    with pytest.raises(InvalidRequest):
        list(read_fields(path))


def test_read_fields_atom_entry_converts_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "feed.atom"
    path.write_text(ATOM)
    [(line, record)] = _parsed(path)
    assert line == 4
    assert record.url == "https://atom.example/a"  # type: ignore[attr-defined]
    assert record.body == "Shares slide."  # type: ignore[attr-defined]
    assert record.published_at == datetime(2024, 1, 3, 8, tzinfo=UTC)  # type: ignore[attr-defined]


def test_read_fields_csv_reports_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "headline,summary,url,source,published_at,symbols\n"
        'Apple up,"multi\nline",https://x/1,wire,2024-01-02T10:00:00Z,AAPL;MSFT\n'
        "Naive time,,https://x/2,wire,2024-01-02T10:00:00,\n"
    )
    rows = list(read_fields(path))
    assert [line for line, _ in rows] == [2, 4]
    record = parse_record(rows[0][1])  # type: ignore[arg-type]
    assert record.body == "multi line"
    assert record.symbols == ("AAPL", "MSFT")
    with pytest.raises(FieldError) as error:
        parse_record(rows[1][1])  # type: ignore[arg-type]
    assert error.value.field == "published_at"
    assert "time zone" in error.value.reason


def test_read_fields_json_lines_flags_bad_json_by_line(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        '{"headline": "a", "source": "s", "published_at": "2024-01-01T00:00Z"}\n\n{oops\n'
    )
    rows = list(read_fields(path))
    assert rows[0][0] == 1
    assert rows[1][0] == 3
    assert isinstance(rows[1][1], FieldError)


def test_read_fields_unknown_extension_is_invalid_request(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text("x")
    with pytest.raises(InvalidRequest):
        read_fields(path)


def test_parse_record_without_url_gets_stable_synthetic_url() -> None:
    fields = {"headline": "H", "source": "S", "published_at": "2024-01-01T00:00:00Z"}
    assert parse_record(fields).url == parse_record(dict(fields)).url
    assert parse_record(fields).url.startswith("urn:velocitas:news:")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source": "S", "published_at": "2024-01-01T00:00:00Z"}, "headline"),
        ({"headline": "H", "published_at": "2024-01-01T00:00:00Z"}, "source"),
        ({"headline": "H", "source": "S"}, "published_at"),
        ({"headline": "H", "source": "S", "published_at": "yesterday"}, "published_at"),
        (
            {
                "headline": "H",
                "source": "S",
                "published_at": "2024-01-01T00:00Z",
                "symbols": ["a b!"],
            },
            "symbols",
        ),
    ],
)
def test_parse_record_names_the_bad_field(fields: dict, field: str) -> None:
    with pytest.raises(FieldError) as error:
        parse_record(fields)
    assert error.value.field == field


def test_parse_instant_accepts_rfc822_and_refuses_naive() -> None:
    assert parse_instant("Tue, 02 Jan 2024 15:04:05 +0100", field="t") == datetime(
        2024, 1, 2, 14, 4, 5, tzinfo=UTC
    )
    with pytest.raises(FieldError):
        parse_instant("Tue, 02 Jan 2024 15:04:05 -0000x", field="t")
    with pytest.raises(FieldError):
        parse_instant("2024-01-02 15:04:05", field="t")

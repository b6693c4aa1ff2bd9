"""News records and the readers for JSON lines, CSV and RSS/Atom files.

Every reader yields `(line, fields)` pairs, `line` being the 1-based line of the file where the
record starts, so that a bad record is reported where a person can find it. `parse_record` turns
fields into a validated `NewsRecord` or raises `FieldError` naming the field and the reason.

Fields: `headline` (required), `body` (or `summary` / `description` / `content`), `url`
(optional: a stable `urn:velocitas:news:<hash>` of source and headline is used when absent),
`source` (required; an RSS/Atom file's channel title when its items name none), `published_at`
(required, ISO 8601 or RFC 822, WITH a time zone; stored in UTC), `symbols` (a JSON list, or
`;`/`,`/space separated; tagged from the aliases when empty). RSS/Atom categories are not taken
as symbols (they are often topics such as "Technology"); the tagger reads them with the text.
Feeds may not declare entities (no DOCTYPE tricks); expat never fetches external resources.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.parsers import expat
from xml.parsers.expat import ExpatError

from velocitas.errors import InvalidRequest
from velocitas.timeparse import parse_instant as parse_iso_instant

__all__ = ["FieldError", "NewsRecord", "parse_instant", "parse_record", "read_fields"]

MAX_HEADLINE = 1000
MAX_SOURCE = 200
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,31}$")
_BODY_FIELDS = ("body", "summary", "description", "content")


@dataclass(frozen=True, slots=True)
class NewsRecord:
    headline: str
    body: str
    url: str
    source: str
    published_at: datetime
    symbols: tuple[str, ...] = field(default=())
    categories: tuple[str, ...] = field(default=())
    """Feed categories: not stored, but read by the symbol tagger (they are often tickers)."""


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_record(fields: Mapping[str, Any]) -> NewsRecord:
    """Validate one record's fields (any reader's, or a JSON body's)."""
    headline = _text(fields, "headline", required=True)
    if len(headline) > MAX_HEADLINE:
        raise FieldError("headline", f"longer than {MAX_HEADLINE} characters")
    source = _text(fields, "source", required=True)
    if len(source) > MAX_SOURCE:
        raise FieldError("source", f"longer than {MAX_SOURCE} characters")
    body = next((_text(fields, name) for name in _BODY_FIELDS if fields.get(name)), "")
    url = _text(fields, "url") or _synthetic_url(source, headline)
    return NewsRecord(
        headline=headline,
        body=body,
        url=url,
        source=source,
        published_at=parse_instant(fields.get("published_at"), field="published_at"),
        symbols=_symbols(fields.get("symbols")),
        categories=tuple(c for c in fields.get("categories", ()) if isinstance(c, str)),
    )


def parse_instant(value: Any, *, field: str) -> datetime:
    """An aware datetime in UTC from ISO 8601 / RFC 822 text or a datetime; naive is refused."""
    if value is None or value == "":
        raise FieldError(field, "missing")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_iso_instant(value, field=field, naive=None)
        except InvalidRequest as exc:
            try:  # feeds (RSS) write RFC 822 times
                moment = email.utils.parsedate_to_datetime(value.strip())
            except (TypeError, ValueError):
                raise FieldError(field, str(exc)) from None
    else:
        raise FieldError(field, f"expected a time string, got {type(value).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldError(field, f"{value!s} has no time zone (add Z or an offset like +01:00)")
    return moment.astimezone(UTC)


def _text(fields: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(name, "missing or empty")
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"expected text, got {type(value).__name__}")
    return " ".join(value.split())


def _symbols(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = [s for s in re.split(r"[;,\s]+", value) if s]
    elif isinstance(value, list) and all(isinstance(s, str) for s in value):
        items = value
    else:
        raise FieldError("symbols", "expected a list of symbols or a ;-separated string")
    symbols = sorted({s.strip().upper() for s in items if s.strip()})
    for symbol in symbols:
        if not _SYMBOL.match(symbol):
            raise FieldError("symbols", f"{symbol!r} is not a symbol (A-Z, 0-9, . _ -; <= 32)")
    return tuple(symbols)


def _synthetic_url(source: str, headline: str) -> str:
    digest = hashlib.sha256(f"{source}\n{headline}".encode()).hexdigest()[:32]
    return f"urn:velocitas:news:{digest}"


# -- readers ---------------------------------------------------------------------------------


def read_fields(path: Path) -> Iterator[tuple[int, dict[str, Any] | FieldError]]:
    """`(line, fields)` for each record of a .jsonl/.ndjson/.json, .csv or .xml/.rss/.atom file."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return _read_json_lines(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in {".xml", ".rss", ".atom"}:
        return _read_feed(path)
    raise InvalidRequest(
        f"{path.name}: unknown news format {suffix!r} (use .jsonl, .csv, .rss/.atom/.xml)",
        field="path",
    )


def _read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | FieldError]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                yield number, FieldError("json", f"not valid JSON ({exc.args[0]})")
                continue
            if not isinstance(value, dict):
                yield number, FieldError("json", "expected one JSON object per line")
                continue
            yield number, value


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any] | FieldError]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "headline" not in reader.fieldnames:
            raise InvalidRequest(f"{path.name}: CSV header must name a 'headline' column")
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                yield start, FieldError("csv", "more values than header columns")
            else:
                yield start, {key: value for key, value in row.items() if value is not None}
            start = reader.line_num + 1


_ATOM = "{http://www.w3.org/2005/Atom}"


def _read_feed(path: Path) -> Iterator[tuple[int, dict[str, Any] | FieldError]]:
    lines: dict[int, int] = {}
    try:
        root = _parse_xml(path.read_bytes(), lines)
    except (ExpatError, ET.ParseError) as exc:
        raise InvalidRequest(f"{path.name}: not well-formed XML ({exc})", field="path") from exc
    if root.tag == "rss" or root.find("channel") is not None:
        channel = root.find("channel")
        feed_source = _child_text(channel, "title") if channel is not None else ""
        items = channel.findall("item") if channel is not None else []
        for item in items:
            yield (
                lines.get(id(item), 0),
                {
                    "headline": _child_text(item, "title"),
                    "body": _child_text(item, "description"),
                    "url": _child_text(item, "link"),
                    "source": _child_text(item, "source") or feed_source,
                    "published_at": _child_text(item, "pubDate") or None,
                    "categories": [c.text or "" for c in item.findall("category")],
                },
            )
    elif root.tag == f"{_ATOM}feed":
        feed_source = _child_text(root, f"{_ATOM}title")
        for entry in root.findall(f"{_ATOM}entry"):
            link = entry.find(f"{_ATOM}link")
            yield (
                lines.get(id(entry), 0),
                {
                    "headline": _child_text(entry, f"{_ATOM}title"),
                    "body": _child_text(entry, f"{_ATOM}summary")
                    or _child_text(entry, f"{_ATOM}content"),
                    "url": link.get("href", "") if link is not None else "",
                    "source": feed_source,
                    "published_at": _child_text(entry, f"{_ATOM}published")
                    or _child_text(entry, f"{_ATOM}updated")
                    or None,
                    "categories": [c.get("term", "") for c in entry.findall(f"{_ATOM}category")],
                },
            )
    else:
        raise InvalidRequest(f"{path.name}: neither an RSS nor an Atom feed", field="path")


def _child_text(parent: ET.Element | None, tag: str) -> str:
    if parent is None:
        return ""
    child = parent.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _parse_xml(data: bytes, lines: dict[int, int]) -> ET.Element:
    """ElementTree from expat directly, remembering the line where each element starts."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def start(name: str, attrs: dict[str, str]) -> None:
        element = builder.start("{" + name if "}" in name else name, attrs)
        lines[id(element)] = parser.CurrentLineNumber

    def end(name: str) -> None:
        builder.end("{" + name if "}" in name else name)

    def refuse_entity(*_: object) -> None:
        raise ExpatError("entity declarations are not allowed in news feeds")

    parser.EntityDeclHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.Parse(data, True)
    return builder.close()

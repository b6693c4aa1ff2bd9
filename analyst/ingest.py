"""Ingest news: validate every record, drop duplicates, embed in batches, store in one transaction.

Rules: a record whose url, or whose (source, headline), is already stored or appeared earlier in
the same batch is a duplicate and is not stored again, so re-ingesting a file changes nothing.
Any bad record aborts the whole ingest (nothing stored) unless `skip_invalid` is set, in which case
bad records are skipped and listed. Records naming no symbol are tagged from the alias list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from analyst.embeddings import embed_texts
from analyst.records import FieldError, NewsRecord, parse_record, read_fields
from analyst.scorers import ArticleScorer, FinanceVaderScorer
from analyst.store import connect, insert_news, known_records
from analyst.symbols import SymbolTagger
from velocitas.errors import InvalidFile, RowProblem
from velocitas.settings import Settings

__all__ = ["IngestReport", "embedding_text", "ingest_file", "ingest_records", "validate"]

MAX_PROBLEMS_SHOWN = 20

ProgressFactory = Callable[[int], Callable[[int], None]]
"""Given the number of texts to embed, returns the callback advancing a progress bar."""


@dataclass(frozen=True, slots=True)
class IngestReport:
    source: str
    read: int
    inserted: int
    duplicates: int
    skipped: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "skipped": [
                {"line": p.row, "field": p.column, "reason": p.reason} for p in self.skipped
            ],
        }


def validate(
    source: str,
    numbered_fields: Iterable[tuple[int, Mapping[str, Any] | FieldError]],
    *,
    skip_invalid: bool,
) -> tuple[list[NewsRecord], list[RowProblem]]:
    """Parsed records and the problems found; raises `InvalidFile` on any unless skipping."""
    records: list[NewsRecord] = []
    problems: list[RowProblem] = []
    for line, fields in numbered_fields:
        try:
            if isinstance(fields, FieldError):
                raise fields
            records.append(parse_record(fields))
        except FieldError as error:
            problems.append(RowProblem(line, error.field, error.reason))
    if problems and not skip_invalid:
        raise InvalidFile(source, problems[:MAX_PROBLEMS_SHOWN], total=len(problems))
    return records, problems


def ingest_records(
    source: str,
    records: Sequence[NewsRecord],
    *,
    embeddings: Embeddings,
    tagger: SymbolTagger,
    settings: Settings | None = None,
    batch_size: int = 64,
    progress: ProgressFactory | None = None,
    skipped: Sequence[RowProblem] = (),
    scorer: ArticleScorer | None = None,
) -> IngestReport:
    """Tag, deduplicate, embed, score (each headline's sentiment, by `scorer`: the offline
    one by default) and store `records` in one transaction."""
    unique = _first_occurrences(records)
    tagged = [
        r if r.symbols else replace(r, symbols=tuple(tagger.tag(r.headline, r.body, *r.categories)))
        for r in unique
    ]
    with connect(settings) as conn:
        stored = known_records(conn, tagged)
        conn.commit()  # no transaction held open while embedding; ON CONFLICT covers races
        fresh = [r for i, r in enumerate(tagged) if i not in stored]
        advance = progress(len(fresh)) if progress else None
        vectors = embed_texts(
            embeddings, [embedding_text(r) for r in fresh], batch_size=batch_size, progress=advance
        )
        scoring = scorer or FinanceVaderScorer()
        scores = scoring.score_texts([r.headline for r in fresh]) if fresh else []
        inserted = insert_news(conn, fresh, vectors, scores=scores, method=scoring.method)
        conn.commit()
    return IngestReport(
        source=source,
        read=len(records) + len(skipped),
        inserted=inserted,
        duplicates=len(records) - inserted,
        skipped=list(skipped),
    )


def ingest_file(
    path: Path,
    *,
    embeddings: Embeddings,
    tagger: SymbolTagger,
    skip_invalid: bool = False,
    settings: Settings | None = None,
    batch_size: int = 64,
    progress: ProgressFactory | None = None,
    scorer: ArticleScorer | None = None,
) -> IngestReport:
    records, problems = validate(path.name, read_fields(path), skip_invalid=skip_invalid)
    return ingest_records(
        path.name,
        records,
        embeddings=embeddings,
        tagger=tagger,
        settings=settings,
        batch_size=batch_size,
        progress=progress,
        skipped=problems,
        scorer=scorer,
    )


def embedding_text(record: NewsRecord) -> str:
    """What is embedded: the headline, then the body (MiniLM reads the first 256 tokens)."""
    return f"{record.headline}. {record.body}" if record.body else record.headline


def _first_occurrences(records: Sequence[NewsRecord]) -> list[NewsRecord]:
    urls: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    kept = []
    for record in records:
        pair = (record.source, record.headline)
        if record.url in urls or pair in pairs:
            continue
        urls.add(record.url)
        pairs.add(pair)
        kept.append(record)
    return kept

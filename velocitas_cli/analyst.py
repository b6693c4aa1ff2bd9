"""`velocitas analyst ...`: ingest news, search it point-in-time, score and store sentiment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from velocitas.errors import VelocitasError
from velocitas_cli.output import JsonOption, console, emit_json, fail, table

app = typer.Typer(help="News analyst: ingest, search, sentiment.", no_args_is_help=True)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int], Callable[[int], None]]]:
    """A factory: given a total, it adds a rich progress bar and returns its advance callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=True,
    ) as progress:

        def start(total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda n: progress.advance(task, n)

        yield start


def _instant(value: str, field: str) -> datetime:
    from analyst.records import FieldError, parse_instant
    from velocitas.errors import InvalidRequest

    try:
        return parse_instant(value, field=field)
    except FieldError as error:
        raise InvalidRequest(str(error), field=field) from None


@app.command()
def ingest(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help=".jsonl, .csv, .rss/.atom")
    ],
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip bad records (listed) instead of storing nothing."
    ),
    json: bool = JsonOption,
) -> None:
    """Ingest a news file: validate, deduplicate, tag symbols, embed, store (all or nothing)."""
    from analyst.ingest import ingest_file
    from analyst.lazy_embeddings import LazyEmbeddings
    from analyst.sentiment import load_scorer
    from analyst.settings import get_analyst_settings
    from analyst.symbols import load_tagger

    settings = get_analyst_settings()
    try:
        tagger = load_tagger(settings.symbol_aliases)
        embeddings = LazyEmbeddings(settings)  # a re-ingest with nothing new never loads it
        with _progress("embedding", not json) as progress:
            report = ingest_file(
                path,
                embeddings=embeddings,
                tagger=tagger,
                skip_invalid=skip_invalid,
                settings=settings,
                batch_size=settings.embedding_batch_size,
                progress=progress,
                scorer=load_scorer(settings),
            )
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json(report.as_dict())
        return
    console.print(
        f"{report.source}: read {report.read}, stored {report.inserted}, "
        f"duplicates {report.duplicates}, skipped {len(report.skipped)}"
    )
    for problem in report.skipped:
        console.print(f"  skipped line {problem.row}: {problem.column}: {problem.reason}")


@app.command("sample-news")
def sample_news(
    out: Annotated[Path, typer.Option("--out", help="JSON lines file to write.")],
    start: str = typer.Option("2024-01-01T00:00:00Z", help="First instant (ISO 8601 with zone)."),
    end: str = typer.Option("2024-04-01T00:00:00Z", help="End instant, exclusive."),
    seed: int = typer.Option(7, help="Random seed: same seed, same file."),
    per_day: int = typer.Option(4, "--per-day", min=1, help="Articles per symbol per day."),
    json: bool = JsonOption,
) -> None:
    """Write deterministic sample news for the sample symbols (SYN, BTCUSD)."""
    from analyst import sample_news as generator

    try:
        count = generator.write(
            out, _instant(start, "start"), _instant(end, "end"), seed=seed, per_day=per_day
        )
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json({"path": str(out), "records": count})
    else:
        console.print(f"wrote {count} articles to {out}")


@app.command()
def search(
    query: str = typer.Argument(..., help='What to look for, e.g. "Apple crash".'),
    at: str = typer.Option(..., "--at", help="As of this instant (ISO 8601 with zone)."),
    symbol: str | None = typer.Option(None, "--symbol", help="Only articles tagged SYMBOL."),
    window: str | None = typer.Option("3d", "--window", help="Look back this far (e.g. 3d)."),
    k: int = typer.Option(10, "-k", help="How many articles."),
    json: bool = JsonOption,
) -> None:
    """Top-k articles published in [at - window, at] by similarity; nothing after AT."""
    from analyst.embeddings import load_embeddings
    from analyst.retrieval import search as run_search
    from analyst.settings import get_analyst_settings
    from velocitas.timeparse import parse_duration

    settings = get_analyst_settings()
    try:
        moment = _instant(at, "at")
        span = parse_duration(window) if window and window != "all" else None
        hits = run_search(
            query,
            at=moment,
            embeddings=load_embeddings(settings),
            symbol=symbol,
            window=span,
            k=k,
            settings=settings,
            ef_search=settings.hnsw_ef_search,
        )
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json([hit.as_dict() for hit in hits])
        return
    rows = [
        {
            "similarity": f"{hit.similarity:.3f}",
            "published_at": hit.published_at.isoformat(),
            "symbols": ",".join(hit.symbols),
            "headline": hit.headline,
        }
        for hit in hits
    ]
    table(f"{query!r} as of {moment.isoformat()}", rows)


@app.command()
def sentiment(
    symbol: str = typer.Option(..., "--symbol"),
    at: str = typer.Option(..., "--at", help="As of this instant (ISO 8601 with zone)."),
    json: bool = JsonOption,
) -> None:
    """The sentiment score of SYMBOL as of AT, from news published up to AT."""
    from analyst.sentiment import score

    try:
        result = score(symbol, _instant(at, "at"))
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json(result.as_dict() | {"symbol": symbol.upper(), "at": at})
    else:
        console.print(
            f"{symbol.upper()} at {at}: {result.score:+.3f} from {result.n_docs} article(s) "
            f"({result.method})"
        )


@app.command()
def features(
    symbol: str = typer.Option(..., "--symbol"),
    timeframe: str = typer.Option(..., "--timeframe", help="Bar length: 1m ... 1d."),
    start: str = typer.Option(..., "--start", help="First bar opened at or after (ISO 8601)."),
    end: str = typer.Option(..., "--end", help="Bars opened before this instant."),
    json: bool = JsonOption,
) -> None:
    """Write the sentiment series aligned to the stored bars (score as of each bar's close)."""
    from analyst.features import write_series
    from analyst.sentiment import default_analyst
    from velocitas.domain.timeframe import Timeframe
    from velocitas.errors import InvalidRequest

    try:
        try:
            frame = Timeframe.parse(timeframe)
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="timeframe") from None
        first, last = _instant(start, "start"), _instant(end, "end")
        with _progress("scoring bars", not json) as progress:
            report = write_series(default_analyst(), symbol, frame, first, last, progress=progress)
    except VelocitasError as error:
        fail(error)
    if json:
        emit_json(report.as_dict())
    else:
        console.print(
            f"{report.symbol} {report.timeframe}: {report.bars} bars scored, "
            f"{report.with_news} with news, mean score {report.mean_score:+.3f}"
        )

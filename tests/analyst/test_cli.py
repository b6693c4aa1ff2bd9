from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from analyst.embeddings import native_bf16
from analyst.sentiment import default_analyst
from analyst.settings import get_analyst_settings
from velocitas_cli.main import app

runner = CliRunner()


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    get_analyst_settings.cache_clear()  # DATABASE_URL is set per test
    default_analyst.cache_clear()
    return runner.invoke(app, ["analyst", *args])


def test_cli_sample_news_ingest_search_sentiment(database_url: str, tmp_path: Path) -> None:
    news = tmp_path / "news.jsonl"
    made = _invoke(
        "sample-news",
        "--out",
        str(news),
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-08T00:00:00Z",
        "--seed",
        "5",
        "--json",
    )
    assert made.exit_code == 0, made.output
    count = json.loads(made.stdout)["records"]
    ingested = _invoke("ingest", str(news), "--json")
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["inserted"] == count
    again = _invoke("ingest", str(news), "--json")
    assert json.loads(again.stdout)["inserted"] == 0
    found = _invoke(
        "search",
        "Synthetica earnings",
        "--symbol",
        "SYN",
        "--at",
        "2024-01-05T00:00:00Z",
        "--window",
        "2d",
        "-k",
        "3",
        "--json",
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert 0 < len(hits) <= 3
    assert all("2024-01-03" <= h["published_at"] <= "2024-01-05T00:00:00+00:00" for h in hits)
    scored = _invoke("sentiment", "--symbol", "SYN", "--at", "2024-01-05T00:00:00Z", "--json")
    assert scored.exit_code == 0, scored.output
    assert -1 <= json.loads(scored.stdout)["score"] <= 1


def test_cli_ingest_bad_file_exits_2_naming_line(database_url: str, tmp_path: Path) -> None:
    news = tmp_path / "news.jsonl"
    news.write_text(
        '{"headline": "a", "source": "s", "published_at": "2024-01-01T00:00:00Z"}\n'
        '{"headline": "b", "source": "s", "published_at": "2024-01-01T00:00:00"}\n'
    )
    result = _invoke("ingest", str(news))
    assert result.exit_code == 2
    assert "row 2, column published_at" in result.output
    skipped = _invoke("ingest", str(news), "--skip-invalid", "--json")
    assert skipped.exit_code == 0
    assert json.loads(skipped.stdout)["skipped"][0]["line"] == 2


def test_cli_search_naive_at_exits_2(database_url: str) -> None:
    result = _invoke("search", "x", "--at", "2024-01-01T00:00:00")
    assert result.exit_code == 2


def test_cli_features_writes_series_for_stored_bars(database_url: str, tmp_path: Path) -> None:
    news = tmp_path / "news.jsonl"
    _invoke(
        "sample-news",
        "--out",
        str(news),
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-04T00:00:00Z",
        "--json",
    )
    _invoke("ingest", str(news), "--json")
    with psycopg.connect(database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO bar VALUES ('SYN', '1d', %s, 1, 1, 1, 1, 1)",
            [(f"2024-01-0{d}T00:00:00Z",) for d in (1, 2, 3)],
        )
    args = (
        "features",
        "--symbol",
        "SYN",
        "--timeframe",
        "1d",
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-04T00:00:00Z",
        "--json",
    )
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["bars"] == 3
    assert report["with_news"] == 3
    assert _invoke(*args).exit_code == 0
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM sentiment").fetchone() == (3,)
    bad = _invoke(
        "features",
        "--symbol",
        "SYN",
        "--timeframe",
        "2h",
        "--start",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-01-04T00:00:00Z",
    )
    assert bad.exit_code == 2


_HEAVY_PROBE = """
import json, sys
from velocitas_cli.main import app
heavy = ("torch", "sentence_transformers", "transformers", "onnxruntime")
for args in json.loads(sys.argv[1]):
    app(args, standalone_mode=False)
    print("LOADED", json.dumps(sorted(m for m in heavy if m in sys.modules)), flush=True)
"""


def test_cli_commands_with_nothing_to_embed_do_not_load_the_model(database_url: str) -> None:
    # A fresh interpreter (this one has loaded the model for other tests). `sentiment` and
    # `features` with no news in the window embed nothing, so neither ONNX Runtime nor torch
    # and sentence-transformers may even be imported (loading them took ~6 s per command);
    # `search` must embed its query, which shows the probe can see a loaded model.
    with psycopg.connect(database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO bar VALUES ('SYN', '1d', %s, 1, 1, 1, 1, 1)",
            [(f"2024-01-0{d}T00:00:00Z",) for d in (1, 2, 3)],
        )
    at = "2024-01-05T00:00:00Z"
    window = ["--start", "2024-01-01T00:00:00Z", "--end", "2024-01-04T00:00:00Z"]
    commands = [
        ["analyst", "sentiment", "--symbol", "SYN", "--at", at, "--json"],
        ["analyst", "features", "--symbol", "SYN", "--timeframe", "1d", "--json", *window],
        ["analyst", "search", "Synthetica crash", "--at", at, "--json"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", _HEAVY_PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        env=os.environ | {"DATABASE_URL": database_url},
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    loaded = [
        json.loads(line.removeprefix("LOADED "))
        for line in result.stdout.splitlines()
        if line.startswith("LOADED ")
    ]
    assert loaded[:2] == [[], []], result.stdout
    # The default runtime: bfloat16 torch on a CPU that has it natively, else ONNX Runtime.
    assert ("sentence_transformers" if native_bf16() else "onnxruntime") in loaded[2]
    assert '"n_docs": 0' in result.stdout

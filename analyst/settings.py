"""The analyst's settings: `AnalystSettings`, read from the environment like `velocitas.settings`.

- `EMBEDDING_MODEL`: `all-MiniLM-L6-v2` (bundled, offline), a sentence-transformers model
  directory, or `python:module:factory` returning a LangChain `Embeddings` (a hosted model).
- `EMBEDDING_BATCH_SIZE`: texts per embedding batch.
- `EMBEDDING_RUNTIME`: how a local model runs: `auto` (`bf16` on a CPU with native bfloat16,
  else ONNX Runtime, falling back to sentence-transformers when that is not possible), `bf16`
  (sentence-transformers with bfloat16 matrix products), `onnx` (ONNX Runtime or an error),
  `sentence-transformers` (fp32).
- `EMBEDDING_CACHE`: where the ONNX graphs exported from local models are kept (default
  `$XDG_CACHE_HOME/velocitas/onnx`, i.e. `~/.cache/velocitas/onnx`: shared by every home).
- `SYMBOL_ALIASES`: a JSON or YAML file `{SYMBOL: [alias, ...]}` replacing the shipped aliases.
- `LLM_MODEL`: `python:module:factory` returning a LangChain chat model; unset: offline only.
- `SENTIMENT_WINDOW`: how far back `score(symbol, at)` looks (`3d`, `12h`, ...).
- `SENTIMENT_HALF_LIFE_HOURS`: the recency weight halves every this many hours.
- `SENTIMENT_MAX_DOCS`: articles combined at most per score.
- `HNSW_EF_SEARCH`: `hnsw.ef_search` for unfiltered searches (recall against speed).
- `ANALYST_MAX_BODY_BYTES`: largest request body accepted (`POST /news`), 4 MiB; larger: 413.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from velocitas.settings import Settings
from velocitas.timeparse import parse_duration

__all__ = ["AnalystSettings", "get_analyst_settings"]

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class AnalystSettings(Settings):
    embedding_model: str = BUNDLED_MODEL
    embedding_batch_size: int = 64
    embedding_runtime: Literal["auto", "bf16", "onnx", "sentence-transformers"] = "auto"
    embedding_cache: Path | None = None
    symbol_aliases: Path | None = None
    llm_model: str | None = None
    sentiment_window: str = "3d"
    sentiment_half_life_hours: float = 24.0
    sentiment_max_docs: int = 50
    hnsw_ef_search: int = 100
    analyst_max_body_bytes: int = Field(default=4 << 20, ge=1024)

    @field_validator("sentiment_window")
    @classmethod
    def _window_parses(cls, value: str) -> str:
        parse_duration(value)
        return value


@lru_cache
def get_analyst_settings() -> AnalystSettings:
    return AnalystSettings()

"""The ONNX Runtime embedding model gives sentence-transformers' vectors (issue 13 item 5)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from analyst import embeddings as embeddings_module
from analyst import onnx_embeddings
from analyst.embeddings import (
    LocalSentenceEmbeddings,
    OnnxSentenceEmbeddings,
    bundled_model_path,
    embed_texts,
)
from analyst.onnx_embeddings import OnnxUnavailable
from velocitas.errors import ConfigurationError

HEADLINES = Path(__file__).parent / "data" / "headlines.csv"


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx_model(onnx_cache: Path) -> OnnxSentenceEmbeddings:
    """Exported on first use into an empty cache, as on a fresh machine (no network)."""
    return OnnxSentenceEmbeddings(bundled_model_path(), onnx_cache)


def _texts() -> list[str]:
    """Four dozen labelled headlines, and a few texts of other shapes: an article with its
    body (longer than the model's 256 tokens: truncated), padding-heavy short ones, blanks
    around, non-ASCII."""
    with HEADLINES.open(newline="") as handle:
        headlines = [row["headline"] for row in csv.DictReader(handle)][:48]
    body = " ".join(headlines[:30])  # ~400 tokens
    return [*headlines, f"{headlines[0]}\n\n{body}", "Dip", "  Shares rally  ", "Zürich € bonds"]


@pytest.mark.slow
def test_onnx_vectors_match_sentence_transformers_per_headline(
    onnx_model: OnnxSentenceEmbeddings, embeddings: LocalSentenceEmbeddings
) -> None:
    texts = _texts()
    got, _ = vectors_beside_fp32(onnx_model, embeddings, texts)
    assert np.allclose(onnx_model.embed_query(texts[3]), got[3], atol=1e-5)


def vectors_beside_fp32(
    model: Embeddings, fp32: LocalSentenceEmbeddings, texts: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(`model`'s vectors, sentence-transformers' fp32 ones) of `texts`, checked to be unit rows
    within cosine 0.999 of each other, text by text."""
    expected = fp32.embed_array(texts)
    got = embed_texts(model, texts, batch_size=16)  # batched by length, order kept
    assert got.shape == expected.shape == (len(texts), 384)
    cosine = (got * expected).sum(axis=1)
    assert cosine.min() >= 0.999, texts[int(cosine.argmin())]
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    return got, expected


@pytest.mark.slow
def test_a_cached_graph_is_reused_without_exporting(
    onnx_model: OnnxSentenceEmbeddings, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embeddings, "_export", no_export)
    again = OnnxSentenceEmbeddings(bundled_model_path(), onnx_cache)
    assert np.array_equal(again.embed_array(["Apple"]), onnx_model.embed_array(["Apple"]))
    assert len(list(onnx_cache.glob("*/model.onnx"))) == 1


def test_without_onnxruntime_auto_falls_back_and_onnx_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    monkeypatch.setattr(embeddings_module, "native_bf16", lambda: False)  # auto: not bf16
    with pytest.raises(OnnxUnavailable, match="onnxruntime"):
        OnnxSentenceEmbeddings(bundled_model_path(), tmp_path)
    build = embeddings_module._local_model.__wrapped__
    with pytest.raises(ConfigurationError, match="EMBEDDING_RUNTIME=onnx"):
        build(bundled_model_path(), 64, "onnx", str(tmp_path))
    model = build(bundled_model_path(), 64, "auto", str(tmp_path))
    assert isinstance(model, LocalSentenceEmbeddings)
    assert not model.bf16
    assert list(tmp_path.iterdir()) == []  # nothing exported


def test_a_model_that_is_not_transformer_pooling_norm_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Dense"}]')
    with pytest.raises(OnnxUnavailable, match="not transformer"):
        OnnxSentenceEmbeddings(str(tmp_path), tmp_path / "cache")

"""Embeddings with bfloat16 matrix products give the fp32 vectors to cosine >= 0.999 (issue 13
item 5), and `EMBEDDING_RUNTIME=auto` takes them only on a CPU that multiplies bfloat16
natively."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyst import embeddings as embeddings_module
from analyst.embeddings import LocalSentenceEmbeddings, bundled_model_path, native_bf16
from tests.analyst.test_onnx_embeddings import _texts, vectors_beside_fp32


@pytest.fixture(scope="module")
def bf16_model() -> LocalSentenceEmbeddings:
    return LocalSentenceEmbeddings(bundled_model_path(), bf16=True)


def test_bf16_vectors_match_fp32_per_text(
    bf16_model: LocalSentenceEmbeddings, embeddings: LocalSentenceEmbeddings
) -> None:
    got, expected = vectors_beside_fp32(bf16_model, embeddings, _texts())
    assert not np.array_equal(got, expected)  # bfloat16 did run: the vectors moved a little


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
        ("fpu avx2 avx512f avx512_vnni", False),
        ("fpu avx512_bf16x", False),  # a whole flag, not a prefix
    ],
)
def test_native_bf16_reads_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert native_bf16(cpuinfo) is native


def test_native_bf16_is_false_where_there_is_no_cpuinfo(tmp_path: Path) -> None:
    assert native_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bf16_only_on_native_hardware(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, native: bool
) -> None:
    monkeypatch.setattr(embeddings_module, "native_bf16", lambda: native)
    onnx = object()  # stands for the ONNX Runtime model: no export needed to tell them apart
    monkeypatch.setattr(embeddings_module, "OnnxSentenceEmbeddings", lambda *_, **__: onnx)
    build = embeddings_module._local_model.__wrapped__
    model = build(bundled_model_path(), 64, "auto", str(tmp_path))
    if native:
        assert isinstance(model, LocalSentenceEmbeddings)
        assert model.bf16
    else:
        assert model is onnx


def test_bf16_can_be_chosen_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embeddings_module, "native_bf16", lambda: False)
    build = embeddings_module._local_model.__wrapped__
    model = build(bundled_model_path(), 64, "bf16", str(tmp_path))
    assert isinstance(model, LocalSentenceEmbeddings)
    assert model.bf16

